package drift

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// readParquet reads a Parquet file (a flat schema: one leaf per top-level
// column) into t, column by column. Numbers (INT32, INT64, FLOAT, DOUBLE)
// make numeric columns; strings, booleans and the rest categorical ones;
// nulls are missing values.
func readParquet(ra io.ReaderAt, size int64, t *table) error {
	f, err := parquet.OpenFile(ra, size)
	if err != nil {
		return fmt.Errorf("%s: not a readable Parquet file: %w", t.name, err)
	}
	cols := f.Root().Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		if !c.Leaf() || c.Repeated() {
			return fmt.Errorf("%s: column %q is nested or repeated (dv drift reads flat tables)", t.name, c.Name())
		}
		names[i] = c.Name()
	}
	if err := t.setHeader(names); err != nil {
		return err
	}
	if !t.typed {
		for _, u := range t.used {
			t.setType(u, isNumericKind(cols[u.index].Type().Kind()))
		}
		t.typed = true
		t.typeReason = "its Parquet type is a number"
	}
	if f.NumRows() == 0 {
		return fmt.Errorf("%s: no rows", t.name)
	}
	t.rows += f.NumRows()
	for _, u := range t.used {
		var row int64
		for _, rg := range f.RowGroups() {
			if err := readParquetChunk(rg.ColumnChunks()[u.index], t, u.col, &row); err != nil {
				return err
			}
		}
	}
	return nil
}

func isNumericKind(k parquet.Kind) bool {
	switch k {
	case parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
		return true
	}
	return false
}

func readParquetChunk(cc parquet.ColumnChunk, t *table, c *column, row *int64) error {
	pages := cc.Pages()
	defer pages.Close()
	buf := make([]parquet.Value, 4096)
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: column %q: %w", t.name, c.name, err)
		}
		vr := p.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				*row++
				if err := addParquetValue(t, c, v, *row); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: column %q: %w", t.name, c.name, err)
			}
		}
		parquet.Release(p)
	}
}

func addParquetValue(t *table, c *column, v parquet.Value, row int64) error {
	if v.IsNull() {
		c.addMissing()
		return nil
	}
	if c.numeric {
		var x float64
		var text string // the cell, when it is a string
		switch v.Kind() {
		case parquet.Int32:
			x = float64(v.Int32())
		case parquet.Int64:
			x = float64(v.Int64())
		case parquet.Float:
			x = float64(v.Float())
		case parquet.Double:
			x = v.Double()
		default:
			text = string(v.ByteArray())
			if isMissing([]byte(text)) {
				c.addMissing()
				return nil
			}
			var ok bool
			if x, ok = parseNumber([]byte(text)); !ok {
				return fmt.Errorf("%s: row %d, column %q: %q is not a number (the column is numeric: %s)", t.name, row, c.name, truncate(text), t.typeReason)
			}
		}
		if math.IsInf(x, 0) {
			shown := strconv.FormatFloat(x, 'g', -1, 64)
			if text != "" {
				shown = strconv.Quote(truncate(text))
			}
			return fmt.Errorf("%s: row %d, column %q: %s %s", t.name, row, c.name, shown, infiniteParquet)
		}
		if math.IsNaN(x) {
			c.addMissing()
			return nil
		}
		c.addFloat(t.budget, x)
		return nil
	}
	var s string
	switch v.Kind() {
	case parquet.Boolean:
		s = strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		s = strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		s = strconv.FormatInt(v.Int64(), 10)
	case parquet.Float:
		s = strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		s = strconv.FormatFloat(v.Double(), 'g', -1, 64)
	default:
		s = string(v.ByteArray())
	}
	return c.addCategory(t.budget, s)
}
