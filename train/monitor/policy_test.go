package monitor

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
)

func config(t *testing.T, y string) *workspace.Config {
	t.Helper()
	c, err := workspace.DecodeConfig([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadPolicy(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []string
		err  string
	}{
		{"version: 1\n", AllReasons, ""},
		{"retrain:\n  on: [drift, metrics]\n", []string{"drift", "metrics"}, ""},
		{"retrain:\n  on: []\n", []string{}, ""},
		{"retrain:\n  on: [newdata]\n", nil, `dv.yaml:2: retrain.on: unknown reason "newdata"`},
		{"retrain:\n  when: [drift]\n", nil, "dv.yaml:2: retrain.when: unknown key"},
	} {
		p, err := LoadPolicy(config(t, tc.yaml))
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(p.On, tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.yaml, p.On, err, tc.want)
		}
	}
}

func TestLoadThresholds(t *testing.T) {
	ths, err := LoadThresholds(config(t, `promotion:
  alias: production
  criteria:
    - metric: rmse
      direction: lower
      threshold: 2.0
      min_relative_improvement: 0.02
    - metric: rmse
      direction: lower
      slices: all
      max_regression: 0.05
    - metric: auc
      direction: higher
      threshold: 0.8
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Threshold{{"rmse", "lower", 2}, {"auc", "higher", 0.8}}
	if !slices.Equal(ths, want) {
		t.Fatalf("%+v, want %+v", ths, want)
	}
	for _, tc := range []struct {
		th   Threshold
		v    float64
		want bool
	}{{want[0], 2, false}, {want[0], 2.01, true}, {want[1], 0.8, false}, {want[1], 0.79, true}} {
		if got := tc.th.Breaks(tc.v); got != tc.want {
			t.Errorf("%s breaks at %g: %v", tc.th, tc.v, got)
		}
	}
	if _, err := LoadThresholds(config(t, "promotion:\n  criteria:\n    - metric: x\n      threshold: 1\n      direction: down\n")); err == nil ||
		!strings.Contains(err.Error(), "promotion.criteria[0].direction: ") {
		t.Errorf("bad direction: %v", err)
	}
	if DefaultAlias(config(t, "promotion:\n  alias: live\n")) != "live" || DefaultAlias(nil) != "production" {
		t.Error("DefaultAlias")
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2026-12-01":                "2026-12-01T00:00:00Z",
		"2026-12-01T08:30:00Z":      "2026-12-01T08:30:00Z",
		"2026-12-01T08:30:00+02:00": "2026-12-01T06:30:00Z",
		"2026-12-01T08:30":          "2026-12-01T08:30:00Z",
		"2026-12-01 08:30":          "2026-12-01T08:30:00Z",
	} {
		got, err := ParseTime(in)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("ParseTime(yesterday) worked")
	}
}

func TestRunOptionsRepeat(t *testing.T) {
	model, metrics, data, logID := objects.ID{1}, objects.ID{2}, objects.ID{3}, objects.ID{4}
	old := &lineage.Record{Type: lineage.TypeRun, Name: "crop", Command: []string{"sh", "train.sh"},
		Params:  map[string]string{"lr": "0.5", "epochs": "3"},
		Inputs:  []lineage.IO{{Path: "data/train.csv", Data: data}},
		Outputs: []lineage.IO{{Path: "model", Data: model}, {Path: "metrics.json", Data: metrics}},
		Objects: []objects.ID{logID, metrics}}
	h := &Holder{Model: "crop", Record: &lineage.Record{Type: lineage.TypeModel, Path: "model"}}
	ro := runOptions(RetrainOptions{Params: map[string]string{"lr": "0.1"}}, old, h)
	if ro.Name != "crop" || !slices.Equal(ro.Command, old.Command) || !slices.Equal(ro.Deps, []string{"data/train.csv"}) ||
		!slices.Equal(ro.Outs, []string{"model"}) || ro.Model.Name != "crop" || ro.Model.Path != "model" ||
		ro.Model.MetricsFile != "metrics.json" || ro.Params["lr"] != "0.1" || ro.Params["epochs"] != "3" {
		t.Fatalf("%+v %+v", ro, ro.Model)
	}
	if old.Params["lr"] != "0.5" {
		t.Error("the old run's params were changed")
	}
}
