package train

import (
	"math"
	"strings"
	"testing"
)

// FuzzParseMetrics: a metrics file a training command wrote (JSON, YAML or
// CSV, per-slice forms included) never panics the parser; what it accepts
// is finite numbers under non-empty names, the same on a second parse, and
// what it refuses is one line.
func FuzzParseMetrics(f *testing.F) {
	for _, s := range []struct{ name, data string }{
		{"m.json", `{"rmse": 1.2, "slices": {"soil=clay": {"rmse": 1.3, "rows": 250}}}`},
		{"m.json", `{"val": {"rmse": 3, "acc": 0.9}, "note": "x", "ok": true}`},
		{"m.yaml", "rmse: 1.2\nslices:\n  soil=sand:\n    rmse: 1.1\n    rows: 40\n"},
		{"m.csv", "epoch,rmse,acc\n1,2.0,0.5\n2,1.5,0.7\n"},
		{"m.csv", "slice,rmse,rows\n,1.2,500\nsoil=clay,1.3,250\n"},
		{"m.json", `{"rmse": NaN}`},
		{"m.yml", "rmse: .inf\n"},
	} {
		f.Add(s.name, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		m, err := ParseMetrics(name, data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		for k, v := range m {
			if k == "" || math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted %q = %v", k, v)
			}
		}
		again, err := ParseMetrics(name, data)
		if err != nil || len(again) != len(m) {
			t.Fatalf("second parse differs: %v, %d vs %d keys", err, len(again), len(m))
		}
		for k, v := range m {
			if again[k] != v {
				t.Fatalf("second parse: %s = %v, first %v", k, again[k], v)
			}
		}
	})
}
