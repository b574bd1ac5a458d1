// Package report writes dv report's page: one self-contained static HTML
// file (inline CSS and SVG, no script, nothing fetched) about one model:
// the lineage graph of its alias holder laid out in layers (data, runs,
// model), its metrics across versions against the promotion threshold,
// the alias history as a timeline, the latest drift check per column, and
// the metrics observed in production over time. Everything it embeds is
// escaped by html/template. Build reads the data from lineage records;
// Render draws it. It imports objects, refs, lineage and
// objects/workspace.
package report

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Data is everything the page shows.
type Data struct {
	Project, Goal string
	KPI           string // the business metric (dv.yaml kpi.name)
	KPIHigher     bool   // higher is better for the KPI
	Primary       string // the metric charted first (dv.yaml metrics.primary)
	Model, Alias  string
	Holder        string // the version holding Alias ("v3"), "" when none
	Generated     time.Time
	Versions      []Version
	Lineage       *Graph             // of the holder (or the latest version); nil: none
	Thresholds    map[string]float64 // metric -> absolute bound from dv.yaml's promotion rules
	Events        []Event            // alias history, oldest first
	Drift         *DriftCheck        // the latest drift check; nil: none
	Production    []Observation      // metrics observed in production, oldest first
	Notes         []string           // what could not be read, said on the page
}

// Version is one model version.
type Version struct {
	N       int // 1-based
	ID      string
	Time    time.Time
	Commit  string
	Run     string // params of its run, "k=v k=v"
	Metrics map[string]float64
	Aliases []string
}

// Name is "v3".
func (v Version) Name() string { return "v" + strconv.Itoa(v.N) }

// Event is one alias decision: promoted, rejected, forced or rolled back.
type Event struct {
	Time     time.Time
	Alias    string
	Decision string
	From, To string // versions ("v2"), "" for none
	Who      string
	Reason   string
}

// DriftCheck is a drift check with its verdict per column.
type DriftCheck struct {
	Time               time.Time
	Reference, Current string
	Drifted            bool
	Columns            []DriftColumn
}

// DriftColumn is one column's test.
type DriftColumn struct {
	Name, Type, Method   string
	Statistic, Threshold float64
	Drift                bool
}

// Observation is one metric value seen in production.
type Observation struct {
	Time    time.Time
	Version string
	Metric  string
	Value   float64
}

// Render writes the page.
func Render(w io.Writer, d *Data) error {
	bw := bufio.NewWriter(w)
	err := page.Execute(bw, view(d))
	return errors.Join(err, bw.Flush())
}

// pageView is what the template reads: the data plus the drawings.
type pageView struct {
	*Data
	HolderID      string
	MetricCharts  []*Chart
	MetricNames   []string // columns of the versions table
	SliceNames    []string
	SliceMetric   string
	Timeline      *timeline
	ProdCharts    []*Chart
	DriftRows     []driftRow
	GeneratedText string
}

type driftRow struct {
	DriftColumn
	Bar, Mark float64 // bar width and threshold mark, in px of 160
}

func view(d *Data) *pageView {
	v := &pageView{Data: d, GeneratedText: d.Generated.UTC().Format("2006-01-02 15:04 MST")}
	v.MetricNames, v.SliceNames, v.SliceMetric = metricColumns(d)
	for _, m := range chartedMetrics(d) {
		v.MetricCharts = append(v.MetricCharts, versionChart(d, m))
	}
	v.Timeline = newTimeline(d.Events)
	v.ProdCharts = prodCharts(d.Production)
	if d.Drift != nil {
		for _, c := range d.Drift.Columns {
			r := driftRow{DriftColumn: c}
			top := max(c.Statistic, c.Threshold) * 1.25
			if top > 0 {
				r.Bar = round1(160 * c.Statistic / top)
				r.Mark = round1(160 * c.Threshold / top)
			}
			v.DriftRows = append(v.DriftRows, r)
		}
	}
	return v
}

// chartedMetrics: the primary metric, then the KPI, then any other metric
// with a threshold; only those some version has.
func chartedMetrics(d *Data) []string {
	var out []string
	add := func(m string) {
		if m == "" || slices.Contains(out, m) {
			return
		}
		for _, v := range d.Versions {
			if _, ok := v.Metrics[m]; ok {
				out = append(out, m)
				return
			}
		}
	}
	add(d.Primary)
	add(d.KPI)
	for _, m := range sortedKeys(d.Thresholds) {
		add(m)
	}
	if len(out) == 0 && len(d.Versions) > 0 { // no framing in dv.yaml: the latest version's top-level metrics
		for _, m := range sortedKeys(d.Versions[len(d.Versions)-1].Metrics) {
			if !strings.Contains(m, ".") && len(out) < 4 {
				add(m)
			}
		}
	}
	return out
}

// metricColumns picks the versions table's columns: top-level metrics,
// and the slices of the primary metric (slices.NAME.METRIC).
func metricColumns(d *Data) (metrics, sliceNames []string, sliceMetric string) {
	sliceMetric = d.Primary
	if sliceMetric == "" {
		sliceMetric = "rmse"
	}
	seenM, seenS := map[string]bool{}, map[string]bool{}
	for _, v := range d.Versions {
		for k := range v.Metrics {
			if name, ok := strings.CutPrefix(k, "slices."); ok {
				if s, ok := strings.CutSuffix(name, "."+sliceMetric); ok {
					seenS[s] = true
				}
				continue
			}
			if !strings.Contains(k, ".") {
				seenM[k] = true
			}
		}
	}
	metrics = sortedKeys(seenM)
	first := chartedMetrics(d)
	slices.SortStableFunc(metrics, func(a, b string) int {
		ia, ib := slices.Index(first, a), slices.Index(first, b)
		if ia < 0 {
			ia = len(first)
		}
		if ib < 0 {
			ib = len(first)
		}
		return ia - ib
	})
	return metrics, sortedKeys(seenS), sliceMetric
}

func versionChart(d *Data, metric string) *Chart {
	var pts []point
	var ticks []Tick
	for i, v := range d.Versions {
		ticks = append(ticks, Tick{Pos: float64(i), Label: v.Name()})
		if x, ok := v.Metrics[metric]; ok {
			pts = append(pts, point{x: float64(i), y: x, label: v.Name() + " " + metric + " " + num(x), mark: v.Name() == d.Holder})
		}
	}
	var thr *float64
	label := ""
	if t, ok := d.Thresholds[metric]; ok {
		thr = &t
		label = "promotion threshold " + num(t)
	}
	return lineChart("chart-"+slug(metric), metric+" by version", 420, 220, ticks, []series{{name: metric, points: pts}}, thr, label)
}

func prodCharts(obs []Observation) []*Chart {
	byMetric := map[string][]Observation{}
	for _, o := range obs {
		byMetric[o.Metric] = append(byMetric[o.Metric], o)
	}
	var out []*Chart
	for _, m := range sortedKeys(byMetric) {
		os := byMetric[m]
		slices.SortStableFunc(os, func(a, b Observation) int { return a.Time.Compare(b.Time) })
		t0, t1 := os[0].Time, os[len(os)-1].Time
		xOf := func(i int, t time.Time) float64 {
			if !t1.After(t0) {
				return float64(i)
			}
			return t.Sub(t0).Hours()
		}
		var ss []series
		idx := map[string]int{}
		for i, o := range os {
			k, ok := idx[o.Version]
			if !ok {
				k = len(ss)
				idx[o.Version] = k
				ss = append(ss, series{name: o.Version})
			}
			ss[k].points = append(ss[k].points, point{x: xOf(i, o.Time), y: o.Value,
				label: o.Version + " " + m + " " + num(o.Value) + " at " + o.Time.UTC().Format("2006-01-02 15:04")})
		}
		ticks := []Tick{{Pos: xOf(0, t0), Label: t0.UTC().Format("Jan 2")}}
		if t1.After(t0) {
			ticks = append(ticks, Tick{Pos: xOf(len(os)-1, t1), Label: t1.UTC().Format("Jan 2")})
		}
		out = append(out, lineChart("prod-"+slug(m), m+" in production", 420, 200, ticks, ss, nil, ""))
	}
	return out
}

// timeline is the alias history drawn as evenly spaced events on a line,
// labelled with their times (a scripted story makes them seconds apart).
type timeline struct {
	Width, Height int
	Events        []timelineEvent
}

type timelineEvent struct {
	Event
	X             float64
	Class, Label  string
	LabelY, TimeY float64
}

func newTimeline(evs []Event) *timeline {
	if len(evs) == 0 {
		return nil
	}
	step := 130.0
	t := &timeline{Width: int(step*float64(len(evs))) + 40, Height: 110}
	for i, e := range evs {
		te := timelineEvent{Event: e, X: 70 + step*float64(i), Class: "d-" + slug(e.Decision), LabelY: 38, TimeY: 88}
		switch {
		case e.To != "" && e.From != "":
			te.Label = e.From + " → " + e.To
		case e.To != "":
			te.Label = e.To
		default:
			te.Label = e.From
		}
		t.Events = append(t.Events, te)
	}
	return t
}

// slug makes a string safe for an id or class: letters, digits, '-'.
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
