package registry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dv-ml/dv/lineage"
)

func f(v float64) *float64 { return &v }

// table renders checks as "metric/slice rule result note" lines.
func table(checks []lineage.Check) string {
	var b strings.Builder
	for _, c := range checks {
		fmt.Fprintf(&b, "%s/%s %s %s", c.Metric, c.Slice, c.Rule, c.Result)
		if c.Note != "" {
			fmt.Fprintf(&b, " (%s)", c.Note)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestEvaluate(t *testing.T) {
	rmseGate := Criterion{Metric: "rmse", Direction: Lower, Threshold: f(2), MinRelativeImprovement: f(0.02)}
	revGuard := Criterion{Metric: "revenue", Direction: Higher, MaxRegression: f(0)}
	sliceGuard := Criterion{Metric: "rmse", Direction: Lower, AllSlices: true, MaxRegression: f(0.05), MinRows: f(200)}
	for _, tc := range []struct {
		name       string
		crit       []Criterion
		base, cand map[string]float64
		noBase     bool
		want       string
	}{
		{name: "no holder: threshold only", crit: []Criterion{rmseGate, revGuard}, noBase: true,
			cand: map[string]float64{"rmse": 1.9, "revenue": 10},
			want: "rmse/ <= 2 pass\nrmse/ better by > 2% skipped (no holder yet: only thresholds apply)\n" +
				"revenue/ worse by <= 0 skipped (no holder yet: only thresholds apply)\n"},
		{name: "under 2% gain", crit: []Criterion{rmseGate},
			base: map[string]float64{"rmse": 1.9}, cand: map[string]float64{"rmse": 1.88},
			want: "rmse/ <= 2 pass\nrmse/ better by > 2% fail (1.053% better)\n"},
		{name: "clearly better", crit: []Criterion{rmseGate},
			base: map[string]float64{"rmse": 1.9}, cand: map[string]float64{"rmse": 1.7},
			want: "rmse/ <= 2 pass\nrmse/ better by > 2% pass (10.53% better)\n"},
		{name: "worse fails relative", crit: []Criterion{rmseGate},
			base: map[string]float64{"rmse": 1.7}, cand: map[string]float64{"rmse": 1.8},
			want: "rmse/ <= 2 pass\nrmse/ better by > 2% fail (5.882% worse)\n"},
		{name: "threshold broken", crit: []Criterion{rmseGate},
			base: map[string]float64{"rmse": 2.5}, cand: map[string]float64{"rmse": 2.1},
			want: "rmse/ <= 2 fail\nrmse/ better by > 2% pass (16% better)\n"},
		{name: "higher is better threshold", crit: []Criterion{{Metric: "acc", Direction: Higher, Threshold: f(0.9), MinImprovement: f(0.01)}},
			base: map[string]float64{"acc": 0.9}, cand: map[string]float64{"acc": 0.905},
			want: "acc/ >= 0.9 pass\nacc/ better by > 0.01 fail (0.005 better)\n"},
		{name: "min improvement is strict", crit: []Criterion{{Metric: "acc", Direction: Higher, MinImprovement: f(0)}},
			base: map[string]float64{"acc": 0.9}, cand: map[string]float64{"acc": 0.9},
			want: "acc/ better by > 0 fail (unchanged)\n"},
		{name: "guard broken", crit: []Criterion{revGuard},
			base: map[string]float64{"revenue": 100}, cand: map[string]float64{"revenue": 99},
			want: "revenue/ worse by <= 0 fail (1 worse)\n"},
		{name: "guard kept", crit: []Criterion{revGuard},
			base: map[string]float64{"revenue": 100}, cand: map[string]float64{"revenue": 100},
			want: "revenue/ worse by <= 0 pass (unchanged)\n"},
		{name: "lower guard within tolerance", crit: []Criterion{{Metric: "rmse", Direction: Lower, MaxRegression: f(0.05)}},
			base: map[string]float64{"rmse": 1}, cand: map[string]float64{"rmse": 1.04},
			want: "rmse/ worse by <= 0.05 pass (0.04 worse)\n"},
		{name: "candidate lacks metric", crit: []Criterion{revGuard},
			base: map[string]float64{"revenue": 100}, cand: map[string]float64{"rmse": 1},
			want: "revenue/ worse by <= 0 fail (the candidate has no revenue)\n"},
		{name: "baseline lacks metric", crit: []Criterion{revGuard},
			base: map[string]float64{"rmse": 1}, cand: map[string]float64{"revenue": 1},
			want: "revenue/ worse by <= 0 skipped (not in the baseline)\n"},
		{name: "relative with zero baseline", crit: []Criterion{{Metric: "loss", Direction: Lower, MinRelativeImprovement: f(0.1)}},
			base: map[string]float64{"loss": 0}, cand: map[string]float64{"loss": 0},
			want: "loss/ better by > 10% fail (baseline is 0: no relative change)\n"},
		{name: "slices: one worse, one small, one new", crit: []Criterion{sliceGuard},
			base: map[string]float64{"rmse": 1.5,
				"slices.soil=clay.rmse": 1.4, "slices.soil=clay.rows": 250,
				"slices.soil=sand.rmse": 1.6, "slices.soil=sand.rows": 300,
				"slices.soil=peat.rmse": 2.0, "slices.soil=peat.rows": 50},
			cand: map[string]float64{"rmse": 1.3,
				"slices.soil=clay.rmse": 1.6, "slices.soil=clay.rows": 250,
				"slices.soil=sand.rmse": 1.2, "slices.soil=sand.rows": 300,
				"slices.soil=peat.rmse": 3.0, "slices.soil=peat.rows": 50,
				"slices.region=eu.west.rmse": 1.0, "slices.region=eu.west.rows": 400},
			want: "rmse/ worse by <= 0.05 pass (0.2 better)\n" +
				"rmse/region=eu.west worse by <= 0.05 skipped (not in the baseline)\n" +
				"rmse/soil=clay worse by <= 0.05 fail (0.2 worse)\n" +
				"rmse/soil=peat worse by <= 0.05 skipped (50 rows < min_rows 200)\n" +
				"rmse/soil=sand worse by <= 0.05 pass (0.4 better)\n"},
		{name: "listed slice missing in candidate", crit: []Criterion{{Metric: "rmse", Direction: Lower, Slices: []string{"soil=loam"}, Threshold: f(2)}},
			base: map[string]float64{"rmse": 1}, cand: map[string]float64{"rmse": 1},
			want: "rmse/ <= 2 pass\nrmse/soil=loam <= 2 fail (the candidate has no rmse in slice soil=loam)\n"},
		{name: "slice metric name with a dot is no slice", crit: []Criterion{{Metric: "rmse", Direction: Lower, Threshold: f(2), AllSlices: true}},
			noBase: true,
			cand: map[string]float64{"rmse": 1.5, "val.rmse": 3,
				"slices.clay.rmse": 1.2, "slices.clay.val.rmse": 3,
				"slices.region=eu.west.rmse": 1.1},
			want: "rmse/ <= 2 pass\nrmse/clay <= 2 pass\nrmse/region=eu.west <= 2 pass\n"},
		{name: "slice without rows count", crit: []Criterion{sliceGuard},
			base: map[string]float64{"rmse": 1, "slices.a.rmse": 1}, cand: map[string]float64{"rmse": 1, "slices.a.rmse": 1},
			want: "rmse/ worse by <= 0.05 pass (unchanged)\nrmse/a worse by <= 0.05 skipped (no row count (rows) for this slice)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := table(Evaluate(tc.crit, tc.base, tc.cand, !tc.noBase))
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
