package registry

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dv-ml/dv/lineage"
)

// Results of a check.
const (
	Pass    = "pass"
	Fail    = "fail"
	Skipped = "skipped"
)

// SlicesKey is the top-level key of per-slice metrics: the metrics file's
// {"slices": {"soil=clay": {"rmse": 1.3, "rows": 250}}} is flattened to
// slices.soil=clay.rmse and slices.soil=clay.rows.
const SlicesKey = "slices"

// RowsKey is a slice's row count, for min_rows.
const RowsKey = "rows"

// SliceValue returns metric's value in slice ("" = overall) from
// flattened metrics.
func SliceValue(m map[string]float64, slice, metric string) (float64, bool) {
	if slice == "" {
		v, ok := m[metric]
		return v, ok
	}
	v, ok := m[SlicesKey+"."+slice+"."+metric]
	return v, ok
}

// SlicesOf returns the slices of flattened metrics that hold metric,
// sorted. A slice name may hold dots: the metric's name ends the key. A
// key splits ambiguously when a slice's metric name holds a dot too:
// slices.clay.val.rmse is slice "clay.val"'s rmse, or slice "clay"'s
// val.rmse. The longer metric name wins when the overall metrics hold it
// (val.rmse here): slices repeat the overall metrics.
func SlicesOf(m map[string]float64, metric string) []string {
	var out []string
	suffix := "." + metric
	for k := range m {
		if rest, ok := strings.CutPrefix(k, SlicesKey+"."); ok {
			if s, ok := strings.CutSuffix(rest, suffix); ok && s != "" && !longerMetric(m, s, metric) {
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// longerMetric reports whether slice's name ends in a part that, with
// metric, is an overall metric name: slice "clay.val" and metric rmse
// when the overall metrics hold val.rmse.
func longerMetric(m map[string]float64, slice, metric string) bool {
	for i := 0; i < len(slice); i++ {
		if slice[i] != '.' || i == 0 {
			continue
		}
		name := slice[i+1:] + "." + metric
		if strings.HasPrefix(name, SlicesKey+".") {
			continue
		}
		if _, ok := m[name]; ok {
			return true
		}
	}
	return false
}

// Evaluate checks the candidate's metrics against the baseline's by the
// criteria and returns the evaluation table, one row per rule and scope
// (overall, then each slice). With no baseline (hasBaseline false: the
// alias has no holder yet) only absolute thresholds apply; the other
// rules are skipped. A slice smaller than min_rows, or absent from the
// baseline, is skipped (its thresholds still apply when it is absent from
// the baseline only), never passed. A metric the candidate lacks fails.
// It is a pure function.
func Evaluate(criteria []Criterion, baseline, candidate map[string]float64, hasBaseline bool) []lineage.Check {
	var out []lineage.Check
	for _, c := range criteria {
		scopes := []string{""}
		switch {
		case c.AllSlices:
			all := SlicesOf(candidate, c.Metric)
			if hasBaseline {
				all = append(all, SlicesOf(baseline, c.Metric)...)
			}
			slices.Sort(all)
			scopes = append(scopes, slices.Compact(all)...)
		default:
			scopes = append(scopes, c.Slices...)
		}
		for _, slice := range scopes {
			out = append(out, evalScope(c, slice, baseline, candidate, hasBaseline)...)
		}
	}
	return out
}

// rule is one rule of a criterion.
type rule struct {
	text     string
	absolute bool
	pass     func(b, c float64) (bool, string)
}

// rulesOf lists a criterion's rules, in a fixed order.
func rulesOf(c Criterion) []rule {
	lower := c.Direction == Lower
	// better is how much better c is than b, in the criterion's direction.
	better := func(b, x float64) float64 {
		if lower {
			return b - x
		}
		return x - b
	}
	var out []rule
	if c.Threshold != nil {
		t := *c.Threshold
		op := ">="
		if lower {
			op = "<="
		}
		out = append(out, rule{text: fmt.Sprintf("%s %s", op, num(t)), absolute: true,
			pass: func(_, x float64) (bool, string) {
				if lower {
					return x <= t, ""
				}
				return x >= t, ""
			}})
	}
	if c.MinImprovement != nil {
		m := *c.MinImprovement
		out = append(out, rule{text: "better by > " + num(m), pass: func(b, x float64) (bool, string) {
			d := better(b, x)
			return d > m, describe(d, "")
		}})
	}
	if c.MinRelativeImprovement != nil {
		m := *c.MinRelativeImprovement
		out = append(out, rule{text: "better by > " + pct(m), pass: func(b, x float64) (bool, string) {
			if b == 0 {
				return false, "baseline is 0: no relative change"
			}
			r := better(b, x) / math.Abs(b)
			return r > m, describe(r, "%")
		}})
	}
	if c.MaxRegression != nil {
		m := *c.MaxRegression
		out = append(out, rule{text: "worse by <= " + num(m), pass: func(b, x float64) (bool, string) {
			d := better(b, x)
			return -d <= m, describe(d, "")
		}})
	}
	return out
}

// describe says how much better (or worse) a change is.
func describe(d float64, unit string) string {
	v := num(math.Abs(d))
	if unit == "%" {
		v = pct(math.Abs(d))
	}
	switch {
	case d > 0:
		return v + " better"
	case d < 0:
		return v + " worse"
	}
	return "unchanged"
}

func evalScope(c Criterion, slice string, baseline, candidate map[string]float64, hasBaseline bool) []lineage.Check {
	var out []lineage.Check
	x, okC := SliceValue(candidate, slice, c.Metric)
	b, okB := SliceValue(baseline, slice, c.Metric)
	okB = okB && hasBaseline
	skipAll := ""
	if slice != "" && c.MinRows != nil {
		rows, ok := SliceValue(candidate, slice, RowsKey)
		switch {
		case !ok:
			skipAll = "no row count (" + RowsKey + ") for this slice"
		case rows < *c.MinRows:
			skipAll = fmt.Sprintf("%s rows < min_rows %s", num(rows), num(*c.MinRows))
		}
	}
	for _, r := range rulesOf(c) {
		ch := lineage.Check{Metric: c.Metric, Slice: slice, Rule: r.text}
		if okC {
			ch.Candidate = ptr(x)
		}
		if okB {
			ch.Baseline = ptr(b)
		}
		if okC && okB {
			ch.Change = ptr(x - b)
		}
		switch {
		case skipAll != "":
			ch.Result, ch.Note = Skipped, skipAll
		case !okC:
			ch.Result, ch.Note = Fail, "the candidate has no "+c.Metric+scopeText(slice)
		case r.absolute:
			ok, note := r.pass(0, x)
			ch.Result, ch.Note = result(ok), note
		case !hasBaseline:
			ch.Result, ch.Note = Skipped, "no holder yet: only thresholds apply"
		case !okB:
			ch.Result, ch.Note = Skipped, "not in the baseline"
		default:
			ok, note := r.pass(b, x)
			ch.Result, ch.Note = result(ok), note
		}
		out = append(out, ch)
	}
	return out
}

func scopeText(slice string) string {
	if slice == "" {
		return ""
	}
	return " in slice " + slice
}

func result(ok bool) string {
	if ok {
		return Pass
	}
	return Fail
}

func ptr(f float64) *float64 { return &f }

// num formats a number briefly (up to 6 significant digits).
func num(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// pct formats a fraction as a percentage.
func pct(f float64) string { return strconv.FormatFloat(f*100, 'g', 4, 64) + "%" }

// Failed returns the rows that failed.
func Failed(checks []lineage.Check) []lineage.Check {
	var out []lineage.Check
	for _, c := range checks {
		if c.Result == Fail {
			out = append(out, c)
		}
	}
	return out
}

// FailureText sums up failed rows in one line: "rmse: needs better by >
// 2%, is 1% better; rmse in slice soil=clay: needs worse by <= 0.05, is
// 0.2 worse".
func FailureText(failed []lineage.Check) string {
	parts := make([]string, 0, len(failed))
	for _, c := range failed {
		s := c.Metric + scopeText(c.Slice) + ": needs " + c.Rule
		if c.Note != "" {
			s += ", is " + c.Note
		} else if c.Candidate != nil {
			s += ", is " + num(*c.Candidate)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
