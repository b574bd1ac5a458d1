package lineage

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/dv-ml/dv/objects"
)

func ids(es []Entry) []objects.ID {
	out := make([]objects.ID, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestLogFilters(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	g := sc.graph(t)
	if g.Len() != 9 {
		t.Fatalf("graph has %d records, want 9", g.Len())
	}
	all := []objects.ID{sc.failRun, sc.curated2, sc.metrics, sc.model, sc.train, sc.labels, sc.curated, sc.etl, sc.imp}
	for _, tc := range []struct {
		name string
		f    Filter
		want []objects.ID
	}{
		{"all newest first", Filter{}, all},
		{"limit", Filter{Limit: 2}, all[:2]},
		{"type", Filter{Types: []string{TypeRun}}, []objects.ID{sc.failRun, sc.train, sc.etl}},
		{"kind", Filter{Types: []string{"labels", "model"}}, []objects.ID{sc.model, sc.labels}},
		{"name", Filter{Name: "curated"}, []objects.ID{sc.curated2, sc.curated}},
		{"path: versions and the runs that read or wrote it", Filter{Path: "data/curated.csv"},
			[]objects.ID{sc.failRun, sc.curated2, sc.train, sc.curated, sc.etl}},
		{"path: a directory", Filter{Path: "data"}, []objects.ID{sc.failRun, sc.curated2, sc.train, sc.curated, sc.etl}},
		{"path: a prefix is not a directory", Filter{Path: "data/cur"}, []objects.ID{}},
		{"of: ancestry with earlier versions", Filter{Of: sc.failRun},
			[]objects.ID{sc.failRun, sc.curated2, sc.train, sc.labels, sc.curated, sc.etl, sc.imp}},
		{"of and type", Filter{Of: sc.model, Types: []string{TypeRun}}, []objects.ID{sc.train, sc.etl}},
		{"of a record not in the graph", Filter{Of: dataID("nothing")}, []objects.ID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(g.Log(tc.f))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Log(%+v) = %v, want %v", tc.f, short(got), short(tc.want))
			}
		})
	}
}

func short(ids []objects.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Short()
	}
	return out
}

func edgeSet(sg *Subgraph) map[Edge]bool {
	m := map[Edge]bool{}
	for _, e := range sg.Edges {
		m[e] = true
	}
	return m
}

func TestUpDown(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	g := sc.graph(t)

	up, err := g.Up(sc.model)
	if err != nil {
		t.Fatal(err)
	}
	wantNodes := []objects.ID{sc.imp, sc.etl, sc.curated, sc.labels, sc.train, sc.model} // oldest first
	if got := ids(up.Nodes); !slices.Equal(got, wantNodes) {
		t.Errorf("Up(model) nodes = %v, want %v", short(got), short(wantNodes))
	}
	wantEdges := map[Edge]bool{
		{sc.imp, sc.etl, EdgeInput}:            true,
		{sc.etl, sc.curated, EdgeOutput}:       true,
		{sc.curated, sc.labels, EdgeLabelsFor}: true,
		{sc.curated, sc.train, EdgeInput}:      true,
		{sc.labels, sc.train, EdgeInput}:       true,
		{sc.train, sc.model, EdgeOutput}:       true,
	}
	if got := edgeSet(up); !mapsEqual(got, wantEdges) {
		t.Errorf("Up(model) edges = %v, want %v", got, wantEdges)
	}

	down, err := g.Down(sc.imp)
	if err != nil {
		t.Fatal(err)
	}
	wantNodes = []objects.ID{sc.imp, sc.etl, sc.curated, sc.labels, sc.train, sc.model, sc.metrics}
	if got := ids(down.Nodes); !slices.Equal(got, wantNodes) {
		t.Errorf("Down(import) nodes = %v, want %v", short(got), short(wantNodes))
	}
	if !edgeSet(down)[Edge{sc.model, sc.metrics, EdgeMetrics}] {
		t.Errorf("Down(import) lacks the metrics edge: %v", down.Edges)
	}

	// The failed run's up-lineage holds both curated versions only through
	// its input; the previous edge between them is kept since both are in.
	up, err = g.Up(sc.failRun)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(up.Nodes); !slices.Equal(got, []objects.ID{sc.curated2, sc.failRun}) {
		t.Errorf("Up(failed run) nodes = %v", short(got))
	}
	if _, err := g.Up(dataID("nothing")); !errors.Is(err, objects.ErrNotFound) {
		t.Errorf("Up(unknown) error = %v, want ErrNotFound", err)
	}
}

func mapsEqual(a, b map[Edge]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func TestPreviousEdgeInsideSubgraph(t *testing.T) {
	t.Parallel()
	rc := testRecorder(t)
	v1 := write(t, rc, &Record{Type: TypeDataset, Path: "d", Data: dataID("1")}, "datasets/d")
	v2 := write(t, rc, &Record{Type: TypeDataset, Path: "d", Data: dataID("2")}, "datasets/d")
	run := write(t, rc, &Record{Type: TypeRun, Name: "cmp", Inputs: []IO{{Path: "d", Record: v1}, {Path: "d", Record: v2}}}, "runs/cmp")
	g, err := LoadRefs(t.Context(), rc.Store, rc.Refs)
	if err != nil {
		t.Fatal(err)
	}
	up, err := g.Up(run)
	if err != nil {
		t.Fatal(err)
	}
	if !edgeSet(up)[Edge{v1, v2, EdgePrevious}] || len(up.Edges) != 3 {
		t.Errorf("edges = %v, want two inputs and v1 -previous-> v2", up.Edges)
	}
}

func TestMissingAndCorrupt(t *testing.T) {
	t.Parallel()
	rc := testRecorder(t)
	gone := dataID("a record not fetched yet")
	id := write(t, rc, &Record{Type: TypeDataset, Path: "d", Parents: []objects.ID{gone}}, "datasets/d")
	g, err := LoadRefs(t.Context(), rc.Store, rc.Refs)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Missing(); !slices.Equal(got, []objects.ID{gone}) {
		t.Errorf("Missing() = %v", short(got))
	}
	up, err := g.Up(id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(up.Missing, []objects.ID{gone}) || len(up.Nodes) != 1 {
		t.Errorf("Up: nodes %d, missing %v", len(up.Nodes), short(up.Missing))
	}

	// A record object that does not decode is an integrity error once a
	// ref reaches it, and is ignored while none does.
	w := rc.Store.NewWriter()
	bad, err := w.Put(context.Background(), objects.TypeRecord, []byte(`{"version":1,"type":"nonsense"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGraph(t.Context(), rc.Store, []objects.ID{id}); err != nil {
		t.Fatalf("unreachable bad record: %v", err)
	}
	_, err = LoadGraph(t.Context(), rc.Store, []objects.ID{bad})
	if !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("reachable bad record: error %v, want ErrCorrupt", err)
	}
}

func TestLoadCancelled(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := LoadRefs(ctx, sc.rc.Store, sc.rc.Refs); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestLoadLongChain walks past lazyLimit, where loading switches from one
// record at a time to decoding the whole store, and checks LoadUp reads
// only the lineage it needs.
func TestLoadLongChain(t *testing.T) {
	t.Parallel()
	rc := testRecorder(t)
	ctx := t.Context()
	w := rc.Store.NewWriter()
	var prev, run objects.ID
	n := 2*lazyLimit + 10
	for i := range n {
		r := &Record{Type: TypeDataset, Path: "d", Data: dataID(fmt.Sprint(i)), Previous: prev, Time: rc.Now()}
		id, err := Put(ctx, w, r)
		if err != nil {
			t.Fatal(err)
		}
		prev = id
	}
	run, err := Put(ctx, w, &Record{Type: TypeRun, Name: "r", Inputs: []IO{{Path: "d", Record: prev}}, Time: rc.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for ref, id := range map[string]objects.ID{"datasets/d": prev, "runs/r": run} {
		if err := rc.Refs.CompareAndSwap(ctx, ref, objects.ID{}, id); err != nil {
			t.Fatal(err)
		}
	}
	g, err := LoadRefs(ctx, rc.Store, rc.Refs)
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() != n+1 {
		t.Fatalf("LoadRefs: %d records, want %d", g.Len(), n+1)
	}
	if log := g.Log(Filter{Types: []string{TypeDataset}}); len(log) != n || log[0].ID != prev {
		t.Fatalf("log: %d entries, first %s", len(log), log[0].ID.Short())
	}
	full, err := g.Up(run)
	if err != nil {
		t.Fatal(err)
	}
	g, err = LoadUp(ctx, rc.Store, rc.Refs, run)
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() != 2 {
		t.Fatalf("LoadUp: %d records, want the run and its input", g.Len())
	}
	up, err := g.Up(run)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(up, full) {
		t.Errorf("LoadUp's Up differs from LoadRefs':\n%+v\n%+v", up, full)
	}
}

// TestLoadRecordAsDecodeRecord checks that the fast decoder the graph
// uses reads every record as DecodeRecord (encoding/json) does.
func TestLoadRecordAsDecodeRecord(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	ctx := t.Context()
	raw := map[string]string{
		"keys in another case": `{"Version":1,"TYPE":"dataset","time":"2026-01-02T03:04:05Z","Path":"a","META":{"K":"v"}}`,
		"duplicate keys":       `{"version":1,"type":"run","time":"2026-01-02T03:04:05Z","name":"a","name":"b","params":{"x":"1"},"params":{"y":"2"}}`,
		"unknown keys":         `{"version":1,"type":"model","time":"2026-01-02T03:04:05.123456789+02:00","future":{"a":[1,2]},"metrics":{"rmse":1e-3}}`,
		"invalid UTF-8":        "{\"version\":1,\"type\":\"labels\",\"time\":\"2026-01-02T03:04:05Z\",\"desc\":\"caf\xe9\"}",
		"nulls":                `{"version":1,"type":"import","time":"2026-01-02T03:04:05Z","parents":null,"meta":null,"env":null}`,
		"escapes":              `{"version":1,"type":"dataset","time":"2026-01-02T03:04:05Z","path":"a\u00e9\ud83d\ude00\n\"b"}`,
		"bad version":          `{"version":2,"type":"dataset","time":"2026-01-02T03:04:05Z"}`,
		"bad id":               `{"version":1,"type":"dataset","time":"2026-01-02T03:04:05Z","data":"xyz"}`,
		"no time":              `{"version":1,"type":"dataset"}`,
		"escaped id":           `{"version":1,"type":"dataset","time":"2026-01-02T03:04:05Z","data":"\u0030` + strings.Repeat("a", 63) + `"}`,
		"upper-case id":        `{"version":1,"type":"dataset","time":"2026-01-02T03:04:05Z","data":"` + strings.Repeat("A", 64) + `"}`,
		"null ids":             `{"version":1,"type":"dataset","time":"2026-01-02T03:04:05Z","data":null,"parents":[null]}`,
		"number id":            `{"version":1,"type":"dataset","time":"2026-01-02T03:04:05Z","previous":12}`,
		"long id":              `{"version":1,"type":"dataset","time":"2026-01-02T03:04:05Z","run":"` + strings.Repeat("0", 66) + `"}`,
	}
	w := sc.rc.Store.NewWriter()
	ids := map[string]objects.ID{}
	for name, b := range raw {
		id, err := w.Put(ctx, objects.TypeRecord, []byte(b))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []objects.ID{sc.imp, sc.etl, sc.curated, sc.labels, sc.train, sc.model, sc.metrics, sc.failRun} {
		ids[id.Short()] = id
	}
	for name, id := range ids {
		b, err := sc.rc.Store.LoadType(ctx, id, objects.TypeRecord)
		if err != nil {
			t.Fatal(err)
		}
		want, werr := DecodeRecord(b)
		got, gerr := loadRecord(ctx, sc.rc.Store, id)
		switch {
		case (werr != nil) != (gerr != nil):
			t.Errorf("%s: DecodeRecord error %v, loadRecord error %v", name, werr, gerr)
		case gerr != nil && !errors.Is(gerr, objects.ErrCorrupt):
			t.Errorf("%s: error %v is not ErrCorrupt", name, gerr)
		case werr == nil && !reflect.DeepEqual(got, want):
			t.Errorf("%s: loadRecord\n%+v\nDecodeRecord\n%+v", name, got, want)
		}
		if _, crafted := raw[name]; !crafted || werr == nil {
			if err := jsonv2.Unmarshal(b, new(Record), decodeOpts); err != nil {
				t.Errorf("%s: the fast decoder fails (%v): every load falls back to encoding/json", name, err)
			}
		}
	}
}
