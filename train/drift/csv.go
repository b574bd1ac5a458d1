package drift

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unsafe"
)

// inferRows is how many rows of the reference decide each column's type:
// numeric when every value present in them is a number.
const inferRows = 1000

// isMissing reports whether a cell is a missing value: empty, or one of
// pandas' default na_values.
func isMissing(b []byte) bool {
	if len(b) > 8 {
		return false
	}
	switch string(b) { // a switch on constants: no hashing, no allocation
	case "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
		"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null":
		return true
	}
	return false
}

// csvReader splits a CSV stream (RFC 4180: quoted fields with "" for a
// quote and line breaks inside quotes; LF or CRLF) into records.
type csvReader struct {
	br     *bufio.Reader
	comma  byte
	line   int64 // the line the current record started on (1-based)
	next   int64 // the line the next record starts on
	fields [][]byte
	buf    []byte
	ends   []int
}

func newCSVReader(r io.Reader, comma byte) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, 1<<20), comma: comma, next: 1}
}

// utf8BOM is the byte order mark some tools (Excel) write before UTF-8 text.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// skipBOM drops a UTF-8 byte order mark at the start of the stream, as
// pandas does: it is not part of the first column's name.
func (r *csvReader) skipBOM() {
	if b, _ := r.br.Peek(len(utf8BOM)); bytes.Equal(b, utf8BOM) {
		_, _ = r.br.Discard(len(utf8BOM))
	}
}

// readLine returns the next line without its line break; the slice is
// valid until the next read.
func (r *csvReader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if len(line) == 0 && err != nil {
		return nil, err
	}
	r.next++
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return line[:n], nil
}

// read returns the next record's fields (valid until the next call), or
// io.EOF. Blank lines are skipped.
func (r *csvReader) read() ([][]byte, error) {
	for {
		r.line = r.next
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			continue
		}
		if bytes.IndexByte(line, '"') < 0 {
			r.fields = r.fields[:0]
			for {
				i := bytes.IndexByte(line, r.comma)
				if i < 0 {
					r.fields = append(r.fields, line)
					return r.fields, nil
				}
				r.fields = append(r.fields, line[:i])
				line = line[i+1:]
			}
		}
		return r.readQuoted(line)
	}
}

// readQuoted parses a record with quotes, reading further lines while a
// quoted field is open.
func (r *csvReader) readQuoted(line []byte) ([][]byte, error) {
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	quoted, atStart := false, true
	for {
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case quoted && c == '"':
				if i+1 < len(line) && line[i+1] == '"' {
					r.buf = append(r.buf, '"')
					i++
				} else {
					quoted = false
				}
			case quoted:
				r.buf = append(r.buf, c)
			case c == '"' && atStart:
				quoted = true
				atStart = false
			case c == '"':
				return nil, fmt.Errorf("line %d: a quote inside an unquoted field (quote the whole field)", r.line)
			case c == r.comma:
				r.ends = append(r.ends, len(r.buf))
				atStart = true
			default:
				r.buf = append(r.buf, c)
				atStart = false
			}
		}
		if !quoted {
			break
		}
		r.buf = append(r.buf, '\n')
		var err error
		line, err = r.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("line %d: a quoted field is not closed", r.line)
			}
			return nil, err
		}
	}
	r.ends = append(r.ends, len(r.buf))
	r.fields = r.fields[:0]
	start := 0
	for _, e := range r.ends {
		r.fields = append(r.fields, r.buf[start:e])
		start = e
	}
	return r.fields, nil
}

func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// parseNumber parses a numeric cell (spaces around it allowed). A NaN is
// not a number here: the spellings pandas counts as missing (nan, NaN,
// -nan, -NaN) are isMissing's, checked first; the others strconv takes
// (NAN, Nan, ...) are text to pandas.
func parseNumber(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(bstr(bytes.TrimSpace(b)), 64)
	return f, err == nil && !math.IsNaN(f)
}

// readCSV reads a CSV stream into t: the header, then every row. When
// t's types are not set (the reference), the first inferRows rows decide
// them; the rest is parsed in parallel (readBlocks).
func readCSV(r io.Reader, t *table, comma byte) error {
	cr := newCSVReader(r, comma)
	cr.skipBOM()
	header, err := cr.read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty file (no header row)", t.name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = string(bytes.TrimSpace(h))
	}
	if err := t.setHeader(names); err != nil {
		return err
	}
	var pending [][][]byte // rows read before the types are known
	var pendingLines []int64
	var row int64
	for !t.typed {
		fields, err := cr.read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		row++
		if len(fields) != len(names) {
			return raggedError(t.name, row, cr.line, len(fields), len(names))
		}
		cp := make([][]byte, len(fields))
		for i, f := range fields {
			cp[i] = bytes.Clone(f)
		}
		pending = append(pending, cp)
		pendingLines = append(pendingLines, cr.line)
		if len(pending) == inferRows {
			break
		}
	}
	if !t.typed {
		if err := t.inferTypes(pending); err != nil {
			return err
		}
		var rowBytes int64
		for _, row := range pending {
			for _, f := range row {
				rowBytes += int64(len(f)) + 1
			}
		}
		numeric := 0
		for _, u := range t.used {
			if u.col.numeric {
				numeric++
			}
		}
		t.budget.expect(rowBytes, int64(len(pending)), numeric)
		for _, u := range t.used {
			t.budget.register(u.col) // sketch at once when expect said so
		}
	}
	if err := t.addRows(pending, pendingLines, 1); err != nil {
		return err
	}
	n, err := readBlocks(cr, t, row)
	if err != nil {
		return err
	}
	if row+n == 0 {
		return fmt.Errorf("%s: no rows (only a header)", t.name)
	}
	return nil
}

// cellError is a bad row or cell; row counts data rows from 1.
type cellError struct {
	file      string
	row, line int64
	rest      string
}

func (e *cellError) Error() string {
	return fmt.Sprintf("%s: row %d (line %d)%s", e.file, e.row, e.line, e.rest)
}

func raggedError(file string, row, line int64, got, want int) error {
	return &cellError{file, row, line, fmt.Sprintf(": %d fields, the header has %d", got, want)}
}

// inferTypes makes each used column numeric when every value present in
// rows is a number (and at least one is).
func (t *table) inferTypes(rows [][][]byte) error {
	for _, u := range t.used {
		numeric, seen := true, false
		for _, row := range rows {
			f := row[u.index]
			if isMissing(f) {
				continue
			}
			seen = true
			if _, ok := parseNumber(f); !ok {
				numeric = false
				break
			}
		}
		t.setType(u, numeric && seen)
	}
	t.typed = true
	return nil
}

func (t *table) addRows(rows [][][]byte, lines []int64, first int64) error {
	for i, row := range rows {
		if err := t.addRow(row, first+int64(i), lines[i]); err != nil {
			return err
		}
	}
	return nil
}

// addRow adds one row's used cells.
func (t *table) addRow(fields [][]byte, row, line int64) error {
	t.rows++
	if len(fields) != len(t.names) {
		return raggedError(t.name, row, line, len(fields), len(t.names))
	}
	for _, u := range t.used {
		f := fields[u.index]
		c := u.col
		if isMissing(f) {
			c.addMissing()
			continue
		}
		if !c.numeric {
			if err := c.addCategory(t.budget, bstr(f)); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			continue
		}
		x, ok := parseNumber(f)
		if !ok {
			return &cellError{t.name, row, line, fmt.Sprintf(", column %q: %q is not a number (the column is numeric: %s)",
				c.name, truncate(string(f)), t.typeReason)}
		}
		if math.IsInf(x, 0) {
			return &cellError{t.name, row, line, fmt.Sprintf(", column %q: %q %s", c.name, truncate(string(f)), infiniteCSV)}
		}
		c.addFloat(t.budget, x)
	}
	return nil
}

// An infinity (inf, -Inf, Infinity, in any case) is a number to pandas'
// read_csv, not a missing value; Evidently then drops it with the missing
// values. dv drift stops on it instead (it is most often a division by
// zero upstream), naming the file, row and column.
const (
	infiniteCSV     = "is infinite (dv drift compares finite numbers; write an empty cell or NA for a missing value)"
	infiniteParquet = "is infinite (dv drift compares finite numbers; write a null for a missing value)"
)

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
