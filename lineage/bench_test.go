package lineage

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// benchRuns is workload W6 of PERF.md: 10,000 runs in the lineage graph.
const benchRuns = 10_000

// benchStore holds a store of W6 and the ids the benchmarks query.
type benchStore struct {
	store           *objects.Store
	refs            *refs.Store
	model, dataset0 objects.ID
	records         int
}

// buildW6 writes W6: 20 dataset versions with labels for each, then
// 10,000 runs over ten experiment names (chains of 1,000 previous
// versions), each reading a dataset and its labels with params, command
// and environment, and every tenth run making a model version. With
// onePackEach every record is written and flushed on its own, as dv run
// writes them; otherwise all go into a few packs, as after a pull.
func buildW6(tb testing.TB, dir string, onePackEach bool) *benchStore {
	tb.Helper()
	ctx := context.Background()
	if err := objects.Init(dir); err != nil {
		tb.Fatal(err)
	}
	s, err := objects.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	rs := refs.Open(filepath.Join(dir, "refs"))
	bs := &benchStore{store: s, refs: rs}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var w *objects.Writer
	put := func(r *Record) objects.ID {
		now = now.Add(time.Second)
		r.Time, r.Who, r.Commit = now, Person{Name: "Ada", Email: "ada@example.com"}, "0123456789abcdef0123456789abcdef01234567"
		if w == nil || onePackEach {
			w = s.NewWriter()
		}
		id, err := Put(ctx, w, r)
		if err != nil {
			tb.Fatal(err)
		}
		if onePackEach {
			if err := w.Flush(ctx); err != nil {
				tb.Fatal(err)
			}
		}
		bs.records++
		return id
	}
	setRef := func(name string, old, id objects.ID) {
		if err := rs.CompareAndSwap(ctx, name, old, id); err != nil {
			tb.Fatal(err)
		}
	}
	var datasets, labels []objects.ID
	var prevData, prevLabels objects.ID
	for i := range 20 {
		d := put(&Record{Type: TypeDataset, Kind: "dataset", Path: "data/fields.csv", Name: "fields",
			Data: dataID(fmt.Sprint("d", i)), Size: 1 << 30, Files: 100_000, Previous: prevData,
			Meta: map[string]string{"source": "s3://bucket/fields", "license": "CC-BY-4.0", "pii": "false"}})
		l := put(&Record{Type: TypeLabels, Kind: "labels", Path: "labels.csv", Data: dataID(fmt.Sprint("l", i)),
			LabelsFor: d, Parents: []objects.ID{d}, Previous: prevLabels})
		datasets, labels = append(datasets, d), append(labels, l)
		prevData, prevLabels = d, l
	}
	bs.dataset0 = datasets[0]
	setRef("datasets/fields", objects.ID{}, prevData)
	setRef("labels/labels.csv", objects.ID{}, prevLabels)
	env := &Env{OS: "linux", Arch: "amd64", CPU: "AMD EPYC", CPUs: 2,
		Versions: map[string]string{"go": "go1.26", "python": "3.12.3"}, LockFiles: map[string]string{"uv.lock": dataID("uv").String()}}
	prevRun := make([]objects.ID, 10)
	var prevModel objects.ID
	for i := range benchRuns {
		k := i % len(datasets)
		run := put(&Record{Type: TypeRun, Name: fmt.Sprint("exp-", i%10), Command: []string{"python", "train.py", "--fast"},
			Params: map[string]string{"lr": fmt.Sprint(0.001 * float64(i%7+1)), "trees": fmt.Sprint(100 + i%300), "seed": fmt.Sprint(i)},
			Inputs: []IO{{Path: "data/fields.csv", Data: dataID(fmt.Sprint("d", k)), Record: datasets[k]},
				{Path: "labels.csv", Data: dataID(fmt.Sprint("l", k)), Record: labels[k]}},
			Outputs: []IO{{Path: "model.bin", Data: dataID(fmt.Sprint("m", i))}}, Status: "succeeded",
			Start: now, End: now.Add(time.Minute), Log: dataID(fmt.Sprint("log", i)), Env: env, CodeTree: "fedcba98",
			CacheKey: dataID(fmt.Sprint("key", i)).String(), Previous: prevRun[i%10]})
		prevRun[i%10] = run
		if i%10 == 9 {
			prevModel = put(&Record{Type: TypeModel, Kind: "model", Path: "model.bin", Name: "crop-rf",
				Data: dataID(fmt.Sprint("m", i)), Run: run, Parents: []objects.ID{run}, Previous: prevModel,
				Metrics: map[string]float64{"rmse": 1 + float64(i%100)/100, "revenue_per_ha": 800 + float64(i%50)}})
		}
	}
	if !onePackEach {
		if err := w.Flush(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	for n, id := range prevRun {
		setRef(fmt.Sprint("runs/exp-", n), objects.ID{}, id)
	}
	setRef("models/crop-rf", objects.ID{}, prevModel)
	bs.model = prevModel
	return bs
}

// BenchmarkLog10k times what dv log and dv lineage do over W6 (PERF.md
// P9: at most 0.5 s each), opening the store afresh each time as a
// command does, so reading the index is included: log loads the graph
// from the refs and lists it all; up is dv lineage (LoadUp, then Up of the
// newest model); up-full is Up after loading the whole graph; down is
// everything derived from the first dataset version. "packed" has the
// records in a few packs (as after a pull); "pack-per-record" has each in
// its own pack, as written one at a time (skipped with -short: writing it
// takes a minute of fsyncs).
func BenchmarkLog10k(b *testing.B) {
	for _, packs := range []string{"packed", "pack-per-record"} {
		if packs == "pack-per-record" && testing.Short() {
			continue
		}
		dir := filepath.Join(b.TempDir(), "store")
		bs := buildW6(b, dir, packs == "pack-per-record")
		_ = bs.store.Close()
		// run opens the store, loads a graph, queries it and closes the
		// store, as one command does.
		run := func(b *testing.B, up bool, query func(*Graph) int, want int) {
			s, err := objects.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var g *Graph
			if up {
				g, err = LoadUp(b.Context(), s, bs.refs, bs.model)
			} else {
				g, err = LoadRefs(b.Context(), s, bs.refs)
			}
			if err != nil {
				b.Fatal(err)
			}
			if got := query(g); got != want {
				b.Fatalf("%d results, want %d", got, want)
			}
		}
		upNodes := func(g *Graph) int {
			sg, err := g.Up(bs.model)
			if err != nil {
				b.Fatal(err)
			}
			return len(sg.Nodes)
		}
		for _, q := range []struct {
			name  string
			up    bool
			query func(*Graph) int
			want  int
		}{
			{"log", false, func(g *Graph) int { return len(g.Log(Filter{})) }, bs.records},
			{"up", true, upNodes, 4},
			{"up-full", false, upNodes, 4},
			{"down", false, func(g *Graph) int {
				sg, err := g.Down(bs.dataset0)
				if err != nil {
					b.Fatal(err)
				}
				return len(sg.Nodes)
			}, 1 + 1 + benchRuns/20}, // the version, its labels, the runs reading them
		} {
			b.Run(packs+"/"+q.name, func(b *testing.B) {
				for b.Loop() {
					run(b, q.up, q.query, q.want)
				}
			})
		}
	}
	b.Logf("%d CPUs", runtime.GOMAXPROCS(0))
}
