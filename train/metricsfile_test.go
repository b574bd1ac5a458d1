package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, data string
		want             map[string]float64
		err              string // substring of the error; "" for none
	}{
		{"json flat", "m.json", `{"acc": 0.9, "loss": 1e-3, "epochs": 10}`, map[string]float64{"acc": 0.9, "loss": 0.001, "epochs": 10}, ""},
		{"json nested, non-numbers skipped", "m.json",
			`{"val": {"rmse": 2.5, "per_class": {"a": 1}}, "name": "rf", "ok": true, "hist": [1, 2], "none": null}`,
			map[string]float64{"val.rmse": 2.5, "val.per_class.a": 1}, ""},
		{"json big int", "m.json", `{"n": 12345678901234567890}`, map[string]float64{"n": 12345678901234567890}, ""},
		{"json not an object", "m.json", `[1, 2]`, nil, "want a JSON object"},
		{"json invalid", "m.json", `{"acc": 0.9,}`, nil, "not valid JSON"},
		{"json trailing value", "m.json", `{"a": 1} {"b": 2}`, nil, "more than one value"},
		{"json no numbers", "m.json", `{"name": "rf"}`, nil, "no numeric metrics"},
		{"json empty", "m.json", ``, nil, "not valid JSON"},
		{"json dotted key clash", "m.json", `{"a.b": 1, "a": {"b": 2}}`, nil, "given twice"},
		{"yaml", "m.yaml", "acc: 0.9\nval:\n  rmse: 2\n  note: fine\nn: 3\n", map[string]float64{"acc": 0.9, "val.rmse": 2, "n": 3}, ""},
		{"yml nan", "m.yml", "acc: .nan\n", nil, "finite"},
		{"yaml inf", "m.yaml", "acc: .inf\n", nil, "finite"},
		{"yaml list", "m.yaml", "- 1\n- 2\n", nil, "want a mapping"},
		{"yaml invalid", "m.yaml", "acc: [1,\n", nil, "not valid YAML"},
		{"yaml int keys", "m.yaml", "1: 0.5\n", map[string]float64{"1": 0.5}, ""},
		{"csv last row", "m.csv", "epoch,acc,loss,note\n1,0.5,2,x\n2,0.8,1.5,y\n", map[string]float64{"epoch": 2, "acc": 0.8, "loss": 1.5}, ""},
		{"csv spaces", "m.csv", "acc, loss\n0.5, 2\n", map[string]float64{"acc": 0.5, "loss": 2}, ""},
		{"tsv", "m.tsv", "acc\tloss\n0.5\t2\n", map[string]float64{"acc": 0.5, "loss": 2}, ""},
		{"json slices", "m.json", `{"rmse": 1.2, "slices": {"soil=clay": {"rmse": 1.3, "rows": 250}, "region=eu.west": {"rmse": 1}}}`,
			map[string]float64{"rmse": 1.2, "slices.soil=clay.rmse": 1.3, "slices.soil=clay.rows": 250, "slices.region=eu.west.rmse": 1}, ""},
		{"yaml slices", "m.yaml", "rmse: 1.2\nslices:\n  soil=clay: {rmse: 1.3, rows: 250}\n",
			map[string]float64{"rmse": 1.2, "slices.soil=clay.rmse": 1.3, "slices.soil=clay.rows": 250}, ""},
		{"csv slices", "m.csv", "slice,rmse,rows\n,1.2,1000\nsoil=clay,1.3,250\nsoil=sand,1.1,750\n",
			map[string]float64{"rmse": 1.2, "rows": 1000, "slices.soil=clay.rmse": 1.3, "slices.soil=clay.rows": 250,
				"slices.soil=sand.rmse": 1.1, "slices.soil=sand.rows": 750}, ""},
		{"csv slices twice", "m.csv", "slice,rmse\na,1\na,2\n", nil, "given twice"},
		{"csv header only", "m.csv", "acc,loss\n", nil, "at least one data row"},
		{"csv empty", "m.csv", "", nil, "at least one data row"},
		{"csv ragged", "m.csv", "a,b\n1,2\n3\n", nil, "not valid CSV"},
		{"csv NaN", "m.csv", "a\nNaN\n", nil, "finite"},
		{"csv no numeric column", "m.csv", "a\nx\n", nil, "no numeric metrics"},
		{"unknown extension json", "metrics", `{"a": 1}`, map[string]float64{"a": 1}, ""},
		{"unknown extension yaml", "metrics.txt", "a: 1\n", map[string]float64{"a": 1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMetrics(tc.file, []byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !mapsEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadMetricsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, _, err := ReadMetricsFile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("missing file: %v", err)
	}
	p := filepath.Join(dir, "m.json")
	if err := os.WriteFile(p, []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m, raw, err := ReadMetricsFile(p)
	if err != nil || m["a"] != 1 || string(raw) != `{"a": 1}` {
		t.Fatalf("got %v %q %v", m, raw, err)
	}
}

func TestDiffMetrics(t *testing.T) {
	t.Parallel()
	rows := DiffMetrics(map[string]float64{"acc": 0.8, "old": 1, "zero": 0}, map[string]float64{"acc": 0.9, "new": 2, "zero": 1})
	if len(rows) != 4 || rows[0].Metric != "acc" || rows[1].Metric != "new" || rows[2].Metric != "old" {
		t.Fatalf("rows: %+v", rows)
	}
	if d := *rows[0].Delta; d < 0.0999 || d > 0.1001 || *rows[0].Relative < 0.124 || *rows[0].Relative > 0.126 {
		t.Fatalf("acc delta %v rel %v", d, *rows[0].Relative)
	}
	if rows[1].A != nil || rows[1].Delta != nil || rows[2].B != nil {
		t.Fatalf("one-sided metrics: %+v %+v", rows[1], rows[2])
	}
	if rows[3].Relative != nil || *rows[3].Delta != 1 {
		t.Fatalf("from zero: %+v", rows[3])
	}
}
