package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// results holds one figure per run for every measurement key: seconds for
// timings, plain numbers for counts. A run whose measurement failed holds
// NaN, so that ratios are only ever taken between figures of the same run.
type results struct {
	runs   int
	vals   map[string][]float64
	secs   map[string]bool // keys that hold seconds
	errs   map[string]string
	order  []string
	header []string // lines printed above the table (machine, versions)
	notes  []string // lines printed below it (skipped peers, problems)
}

func newResults(runs int) *results {
	return &results{runs: runs, vals: map[string][]float64{}, secs: map[string]bool{}, errs: map[string]string{}}
}

func (r *results) slot(key string) []float64 {
	v, ok := r.vals[key]
	if !ok {
		v = make([]float64, r.runs)
		for i := range v {
			v[i] = math.NaN()
		}
		r.vals[key] = v
		r.order = append(r.order, key)
	}
	return v
}

// set records the figure of key in run.
func (r *results) set(key string, run int, v float64) { r.slot(key)[run] = v }

// setSecs records a timing of key in run, in seconds.
func (r *results) setSecs(key string, run int, v float64) {
	r.secs[key] = true
	r.slot(key)[run] = v
}

// fail records that key failed in run, keeping the first message.
func (r *results) fail(key string, run int, err error) {
	r.slot(key)[run] = math.NaN()
	if _, ok := r.errs[key]; !ok {
		r.errs[key] = fmt.Sprintf("run %d: %v", run+1, err)
	}
}

func (r *results) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func finite(xs []float64) []float64 {
	var out []float64
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			out = append(out, x)
		}
	}
	return out
}

func median(xs []float64) float64 {
	xs = finite(xs)
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func maxOf(xs []float64) float64 {
	xs = finite(xs)
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}

// pairRatio is the median over runs of a[i]/b[i], for runs where both exist.
func pairRatio(a, b []float64) (float64, int) {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if x, y := a[i], b[i]; !math.IsNaN(x) && !math.IsNaN(y) && y > 0 {
			rs = append(rs, x/y)
		}
	}
	return median(rs), len(rs)
}

// A row compares a dv timing with a reference timing (ratio rows) or shows
// one figure against a bound (value rows).
type row struct {
	goal, what string
	dv         string  // key of dv's timing or figure
	ref, label string  // key and name of the reference; empty for value rows (ratio rows: unit "" is seconds)
	maxRatio   float64 // ratio rows: PASS when median dv/ref <= maxRatio; 0: info only
	target     string  // printed target
	// value rows
	unit  string               // "s", "count", "bytes", "%"
	worst bool                 // use the worst (largest) run instead of the median
	pass  func(v float64) bool // nil: info only
}

func fmtSeconds(s float64) string {
	switch {
	case math.IsNaN(s):
		return "n/a"
	case s < 1:
		return fmt.Sprintf("%.3f s", s)
	case s < 100:
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}

func fmtValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	switch unit {
	case "s":
		return fmtSeconds(v)
	case "bytes":
		return humanBytes(int64(v))
	case "%":
		return fmt.Sprintf("%.2f %%", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// print writes the header, the table and the notes. It returns the number
// of rows that missed their target or could not be measured.
func (r *results) print(w io.Writer, rows []row) int {
	for _, h := range r.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "goal\tmeasure\tdv\treference\tref\tdv/ref\ttarget\tresult")
	fmt.Fprintln(tw, "----\t-------\t--\t---------\t---\t------\t------\t------")
	bad := 0
	for _, rw := range rows {
		dvv, ok := r.vals[rw.dv]
		if !ok {
			continue // not measured (goal not selected)
		}
		var cells []string
		result := "info"
		if rw.ref == "" {
			v := median(dvv)
			agg := ""
			if rw.worst {
				v, agg = maxOf(dvv), " (worst)"
			}
			if rw.pass != nil {
				result = passMiss(!math.IsNaN(v) && rw.pass(v))
			}
			if math.IsNaN(v) {
				result = "ERROR"
			}
			cells = []string{rw.goal, rw.what, fmtValue(v, rw.unit) + agg, "", "", "", rw.target, result}
		} else {
			refv, ok := r.vals[rw.ref]
			if !ok {
				continue // peer not installed: said in the notes
			}
			ratio, n := pairRatio(dvv, refv)
			if rw.maxRatio > 0 {
				result = passMiss(n > 0 && ratio <= rw.maxRatio)
			}
			if n == 0 {
				result = "ERROR"
			}
			rs := "n/a"
			if n > 0 {
				rs = fmt.Sprintf("%.2f×", ratio)
				if n < r.runs {
					rs += fmt.Sprintf(" (%d runs)", n)
				}
			}
			unit := rw.unit
			if unit == "" {
				unit = "s"
			}
			cells = []string{rw.goal, rw.what, fmtValue(median(dvv), unit), rw.label, fmtValue(median(refv), unit), rs, rw.target, result}
		}
		if result == "MISS" || result == "ERROR" {
			bad++
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nmedians of %d runs; dv/ref is the median of the per-run ratios (each pair measured in the same run).\n", r.runs)
	fmt.Fprintln(w, "GNU cp (9.x) and cat copy with copy_file_range, in the kernel: they never move the bytes through user space,")
	fmt.Fprintln(w, "which every tool that hashes the data (dv, restic, git-lfs, b3sum) must do.")
	if len(r.errs) > 0 {
		fmt.Fprintln(w, "\nfailures:")
		for _, k := range r.order {
			if e, ok := r.errs[k]; ok {
				fmt.Fprintf(w, "  %s: %s\n", k, e)
			}
		}
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.notes {
			fmt.Fprintln(w, n)
		}
	}
	return bad
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// printRuns writes every figure of every run, for the record.
func (r *results) printRuns(w io.Writer) {
	fmt.Fprintln(w, "\nper-run figures:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range r.order {
		var cells []string
		for _, v := range r.vals[k] {
			switch {
			case math.IsNaN(v):
				cells = append(cells, "-")
			case r.secs[k]:
				cells = append(cells, fmt.Sprintf("%.3f", v))
			case v == math.Trunc(v):
				cells = append(cells, fmt.Sprintf("%.0f", v))
			default:
				cells = append(cells, fmt.Sprintf("%.3f", v))
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k, strings.Join(cells, "  "))
	}
	_ = tw.Flush()
}
