package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fixture is a page with every section filled: three versions, a lineage
// of data, labels, an import, two runs and the model, alias events, a
// drift check and production metrics. hostile puts markup in every name.
func fixture(hostile string) *Data {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	id := func(c byte) string { return strings.Repeat(string(c), 64) }
	met := func(rmse, rev, clay, peat float64) map[string]float64 {
		m := map[string]float64{"rmse": rmse, "revenue_per_ha": rev, "slices.soil=clay.rmse": clay, "slices.soil=clay.rows": 700}
		if peat > 0 {
			m["slices.soil=peat.rmse"] = peat
		}
		return m
	}
	g := &Graph{
		Nodes: []*GraphNode{
			{ID: id('1'), Type: "import", Title: "raw/gps.csv" + hostile, Lines: []string{"111111111111 · abc1234", "from file:///portal/gps.csv"}},
			{ID: id('2'), Type: "dataset", Title: "raw/soil", Lines: []string{"222222222222 · abc1234", "312 KiB"}},
			{ID: id('3'), Type: "run", Title: "etl", Lines: []string{"333333333333 · abc1234", ""}},
			{ID: id('4'), Type: "dataset", Title: "curated/fields.csv", Lines: []string{"444444444444 · abc1234", "1.2 MiB"}},
			{ID: id('5'), Type: "labels", Title: "labels/grades.csv", Lines: []string{"555555555555 · abc1234", "845 KiB"}},
			{ID: id('6'), Type: "run", Title: "crop" + hostile, Lines: []string{"666666666666 · def5678", "rounds=300"}},
			{ID: id('7'), Type: "model", Title: "crop (model/crop.json)", Lines: []string{"v2 · 777777777777 · def5678", "rmse=0.62"}, Holder: true},
		},
		Edges: []*GraphEdge{
			{From: id('1'), To: id('3'), Label: "input"}, {From: id('2'), To: id('3'), Label: "input"},
			{From: id('3'), To: id('4'), Label: "output"}, {From: id('4'), To: id('5'), Label: "labels-for"},
			{From: id('4'), To: id('6'), Label: "input"}, {From: id('5'), To: id('6'), Label: "input"},
			{From: id('6'), To: id('7'), Label: "output"},
		},
	}
	layout(g)
	return &Data{
		Project: "crop-quality" + hostile, Goal: "Predict crop quality per field." + hostile,
		KPI: "revenue_per_ha", KPIHigher: true, Primary: "rmse",
		Model: "crop" + hostile, Alias: "production" + hostile, Holder: "v2", Generated: t0.Add(72 * time.Hour),
		Versions: []Version{
			{N: 1, ID: id('a'), Time: t0, Commit: "abc1234def", Run: "rounds=100", Metrics: met(0.681, 1706, 0.702, 0)},
			{N: 2, ID: id('7'), Time: t0.Add(time.Hour), Commit: "def5678abc", Run: "rounds=300" + hostile, Metrics: met(0.623, 3152, 0.589, 0.624), Aliases: []string{"production" + hostile}},
			{N: 3, ID: id('b'), Time: t0.Add(2 * time.Hour), Commit: "0123456789", Run: "depth=5 min_leaf=500 rounds=400", Metrics: met(0.601, 3169, 0.540, 0.714)},
		},
		Lineage:    g,
		Thresholds: map[string]float64{"rmse": 2.0},
		Events: []Event{
			{Time: t0.Add(10 * time.Minute), Alias: "production", Decision: "promoted", To: "v1", Who: "Ada Analyst"},
			{Time: t0.Add(70 * time.Minute), Alias: "production", Decision: "promoted", From: "v1", To: "v2", Who: "Ada Analyst"},
			{Time: t0.Add(130 * time.Minute), Alias: "production", Decision: "rejected", From: "v2", To: "v3", Who: "Bo", Reason: "slice soil=peat: rmse +0.090 > 0.05" + hostile},
			{Time: t0.Add(200 * time.Minute), Alias: "production", Decision: "rolled back", From: "v2", To: "v1", Who: "Ada Analyst"},
		},
		Drift: &DriftCheck{Time: t0.Add(60 * time.Minute), Reference: "crop@production", Current: "curated/fields.csv" + hostile, Drifted: true,
			Columns: []DriftColumn{
				{Name: "rain_mm", Type: "numeric", Method: "wasserstein", Statistic: 1.159, Threshold: 0.1, Drift: true},
				{Name: "soil" + hostile, Type: "categorical", Method: "jensenshannon", Statistic: 0.159, Threshold: 0.1, Drift: true},
				{Name: "lat", Type: "numeric", Method: "wasserstein", Statistic: 0.005, Threshold: 0.1},
			}},
		Production: []Observation{
			{Time: t0.Add(24 * time.Hour), Version: "v2", Metric: "rmse", Value: 0.64},
			{Time: t0.Add(48 * time.Hour), Version: "v2", Metric: "rmse", Value: 0.91},
			{Time: t0.Add(49 * time.Hour), Version: "v1", Metric: "rmse", Value: 0.70},
			{Time: t0.Add(24 * time.Hour), Version: "v2", Metric: "revenue_per_ha" + hostile, Value: 3050},
		},
	}
}

const hostile = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`

func TestRenderEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, fixture(hostile)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "<img", "alert(2)>"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page holds %q: embedded text is not escaped", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile name does not appear escaped")
	}
	for _, net := range []string{"http://", "https://", "//cdn", "@import", "url(http"} {
		if strings.Contains(page, net) && net != "http://" {
			t.Errorf("page refers to the network: %q", net)
		}
	}
	// The only http:// on the page are SVG namespace names, which nothing fetches.
	if n, ns := strings.Count(page, "http://"), strings.Count(page, `xmlns="http://www.w3.org/2000/svg"`); n != ns {
		t.Errorf("page names %d http:// URLs, %d of them SVG namespaces", n, ns)
	}
}

func TestRenderSections(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, fixture("")); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<svg id="lineage"`, `<svg id="chart-rmse"`, `<svg id="chart-revenue-per-ha"`,
		`<svg id="timeline"`, `<table id="drift"`, `<svg id="prod-rmse"`, `class="threshold"`, "promotion threshold 2.00",
		"rmse soil=clay", "soil=peat", `class="node model holder"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, `<g class="node `); n != 7 {
		t.Errorf("%d lineage nodes drawn, want 7", n)
	}
	// Empty: every section says so.
	b.Reset()
	if err := Render(&b, &Data{Model: "crop", Alias: "production"}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "none yet"); n != 5 {
		t.Errorf("an empty report says 'none yet' %d times, want 5 (one per section)", n)
	}
}

func TestLayoutLayers(t *testing.T) {
	g := fixture("").Lineage
	y := map[string]int{}
	for _, n := range g.Nodes {
		y[n.Title] = n.Y
	}
	// import and soil feed etl; etl makes curated; curated and labels feed
	// the training run; the run makes the model: every edge points down.
	for _, e := range g.Edges {
		var from, to *GraphNode
		for _, n := range g.Nodes {
			if n.ID == e.From {
				from = n
			}
			if n.ID == e.To {
				to = n
			}
		}
		if from.Y >= to.Y {
			t.Errorf("edge %s -> %s points up (y %d -> %d)", from.Title, to.Title, from.Y, to.Y)
		}
		if e.Path == "" {
			t.Errorf("edge %s -> %s has no path", from.Title, to.Title)
		}
	}
	if y["raw/soil"] != y["raw/gps.csv"] || y["curated/fields.csv"] <= y["etl"] || y["crop (model/crop.json)"] <= y["crop"] {
		t.Errorf("layers: %v", y)
	}
	for _, n := range g.Nodes {
		if n.X+nodeW > g.Width || n.Y+nodeH > g.Height {
			t.Errorf("node %s at (%d,%d) outside %dx%d", n.Title, n.X, n.Y, g.Width, g.Height)
		}
	}
}
