package train

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxMetricsFile bounds what is read from a metrics file.
const maxMetricsFile = 16 << 20

// ReadMetricsFile reads and parses a metrics file (see ParseMetrics).
func ReadMetricsFile(path string) (map[string]float64, []byte, error) {
	return readMetricsFile(path, path)
}

// readMetricsFile reads the file at path, naming it name in errors.
func readMetricsFile(path, name string) (map[string]float64, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics file %s: %w", name, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetricsFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("metrics file %s: %w", name, err)
	}
	if len(b) > maxMetricsFile {
		return nil, nil, fmt.Errorf("metrics file %s: larger than %d MiB", name, maxMetricsFile>>20)
	}
	m, err := ParseMetrics(path, b)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics file %s: %w", name, err)
	}
	return m, b, nil
}

// ParseMetrics parses metrics by the file name's extension: .json (an
// object), .yaml or .yml (a mapping), .csv or .tsv (a header row and data
// rows; the last row counts, unless a column is named slice: then the row
// with an empty slice holds the overall metrics and each other row a
// slice's, as slices.SLICE.METRIC). Other names are read as JSON when they start
// with '{', else as YAML. Nested objects are flattened with '.' ("val.rmse");
// per-slice metrics ({"rmse": 1.2, "slices": {"soil=clay": {"rmse": 1.3,
// "rows": 250}}}) become slices.soil=clay.rmse and slices.soil=clay.rows;
// numbers are kept, strings, booleans, lists and nulls skipped, and CSV
// columns that do not parse as numbers skipped. NaN and infinities are
// errors, as is a file with no numeric metric at all.
func ParseMetrics(name string, data []byte) (map[string]float64, error) {
	out := map[string]float64{}
	var err error
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		err = parseJSONMetrics(data, out)
	case ".yaml", ".yml":
		err = parseYAMLMetrics(data, out)
	case ".csv":
		err = parseCSVMetrics(data, ',', out)
	case ".tsv":
		err = parseCSVMetrics(data, '\t', out)
	default:
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			err = parseJSONMetrics(data, out)
		} else {
			err = parseYAMLMetrics(data, out)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no numeric metrics found")
	}
	return out, nil
}

func parseJSONMetrics(data []byte, out map[string]float64) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("not valid JSON: more than one value")
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("want a JSON object of metrics")
	}
	return flatten("", v, out)
}

func parseYAMLMetrics(data []byte, out map[string]float64) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("not valid YAML: %s", strings.Join(strings.Fields(err.Error()), " "))
	}
	switch v.(type) {
	case map[string]any, map[any]any:
	default:
		return errors.New("want a mapping of metrics")
	}
	return flatten("", v, out)
}

// flatten adds the numbers in v to out, nested keys joined with '.'.
func flatten(prefix string, v any, out map[string]float64) error {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	var f float64
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if strings.TrimSpace(k) == "" {
				continue // no name: not a metric (as an unnamed CSV column)
			}
			if err := flatten(join(k), x[k], out); err != nil {
				return err
			}
		}
		return nil
	case map[any]any:
		for k, e := range x {
			if strings.TrimSpace(fmt.Sprint(k)) == "" {
				continue
			}
			if err := flatten(join(fmt.Sprint(k)), e, out); err != nil {
				return err
			}
		}
		return nil
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return fmt.Errorf("metric %s: %q is not a number", prefix, x)
		}
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float64:
		f = x
	default:
		return nil // strings, booleans, lists, nulls: not metrics
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("metric %s is %v; metrics must be finite numbers", prefix, f)
	}
	if _, dup := out[prefix]; dup {
		return fmt.Errorf("metric %s given twice", prefix)
	}
	out[prefix] = f
	return nil
}

func parseCSVMetrics(data []byte, comma rune, out map[string]float64) error {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	r.TrimLeadingSpace = true
	rows, err := r.ReadAll()
	if err != nil {
		return fmt.Errorf("not valid CSV: %w", err)
	}
	if len(rows) < 2 {
		return errors.New("want a header row and at least one data row")
	}
	header, last := rows[0], rows[len(rows)-1]
	for i, name := range header {
		if strings.TrimSpace(name) == "slice" {
			return parseCSVSlices(header, rows[1:], i, out)
		}
	}
	return parseCSVRow(header, last, "", out)
}

// parseCSVSlices reads a CSV with a slice column: the row whose slice is
// empty (or "all") holds the overall metrics, every other row a slice's
// (slices.NAME.METRIC).
func parseCSVSlices(header []string, rows [][]string, col int, out map[string]float64) error {
	for _, row := range rows {
		if col >= len(row) {
			continue
		}
		prefix := ""
		if s := strings.TrimSpace(row[col]); s != "" && s != "all" {
			prefix = "slices." + s + "."
		}
		if err := parseCSVRow(header, row, prefix, out); err != nil {
			return err
		}
	}
	return nil
}

// parseCSVRow adds the numeric columns of one row to out, each key
// prefixed.
func parseCSVRow(header, last []string, prefix string, out map[string]float64) error {
	for i, name := range header {
		name = strings.TrimSpace(name)
		if name == "" || i >= len(last) {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(last[i]), 64)
		if err != nil {
			continue // not a numeric column
		}
		name = prefix + name
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("metric %s is %v; metrics must be finite numbers", name, f)
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("metric %s given twice", name)
		}
		out[name] = f
	}
	return nil
}
