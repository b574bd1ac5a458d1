package lineage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

// testRecorder returns a Recorder on a new store in a temp directory,
// with a clock that advances one minute a record and a fixed git context.
func testRecorder(t testing.TB) *Recorder {
	t.Helper()
	dir := t.TempDir()
	if err := objects.Init(filepath.Join(dir, "store")); err != nil {
		t.Fatal(err)
	}
	s, err := objects.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Recorder{
		Store: s, Refs: refs.Open(filepath.Join(dir, "refs")),
		Code: gitrepo.Context{Commit: "0123456789abcdef0123456789abcdef01234567", Tree: "fedcba98",
			Name: "Ada Lovelace", Email: "ada@example.com"},
		Now: func() time.Time { now = now.Add(time.Minute); return now },
	}
}

func write(t testing.TB, rc *Recorder, r *Record, ref string) objects.ID {
	t.Helper()
	id, err := rc.Write(context.Background(), r, ref)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func dataID(s string) objects.ID { return objects.Hash(objects.TypeBlob, []byte(s)) }

// scenario is the life of a small project: raw data imported, an ETL run
// making a curated dataset, labels for it, a training run making a model,
// production metrics, a second curated version added by hand, and a
// failed run.
type scenario struct {
	rc                                *Recorder
	imp, etl, curated, labels, train  objects.ID
	model, metrics, curated2, failRun objects.ID
}

func newScenario(t testing.TB) *scenario {
	t.Helper()
	rc := testRecorder(t)
	sc := &scenario{rc: rc}
	sc.imp = write(t, rc, &Record{Type: TypeImport, Path: "raw.csv", Data: dataID("raw"), Size: 300, Files: 1,
		Source: "https://example.com/data/raw.csv", ETag: `"abc123"`,
		FetchedAt: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)}, RefFor(TypeImport, "raw.csv"))
	// The ETL run is written first; its output's record names it.
	sc.etl = write(t, rc, &Record{Type: TypeRun, Name: "etl", Command: []string{"python", "etl.py"},
		Params: map[string]string{"clean": "true"}, Status: "succeeded",
		Inputs:  []IO{{Path: "raw.csv", Data: dataID("raw"), Record: sc.imp}},
		Outputs: []IO{{Path: "data/curated.csv", Data: dataID("curated")}}, Parents: []objects.ID{sc.imp}}, RefFor(TypeRun, "etl"))
	sc.curated = write(t, rc, &Record{Type: TypeDataset, Kind: "dataset", Path: "data/curated.csv", Name: "curated",
		Data: dataID("curated"), Size: 200, Files: 1, Desc: "curated fields",
		Meta:    map[string]string{"source": "https://example.com/data/raw.csv", "license": "CC-BY-4.0", "pii": "false"},
		Parents: []objects.ID{sc.etl}}, RefFor(TypeDataset, "curated"))
	sc.labels = write(t, rc, &Record{Type: TypeLabels, Kind: "labels", Path: "labels.csv", Data: dataID("labels"),
		Size: 50, Files: 1, LabelsFor: sc.curated, Parents: []objects.ID{sc.curated}}, RefFor(TypeLabels, "labels.csv"))
	// The training run names its inputs; the model names the run.
	sc.train = write(t, rc, &Record{Type: TypeRun, Name: "train-rf", Command: []string{"python", "train.py"},
		Params: map[string]string{"trees": "200"}, Status: "succeeded",
		Inputs: []IO{{Path: "data/curated.csv", Data: dataID("curated"), Record: sc.curated},
			{Path: "labels.csv", Data: dataID("labels"), Record: sc.labels}},
		Outputs: []IO{{Path: "model.bin", Data: dataID("model")}}}, RefFor(TypeRun, "train-rf"))
	sc.model = write(t, rc, &Record{Type: TypeModel, Kind: "model", Path: "model.bin", Name: "crop-rf",
		Data: dataID("model"), Size: 1000, Files: 1, Run: sc.train, Metrics: map[string]float64{"rmse": 1.25}},
		RefFor(TypeModel, "crop-rf"))
	sc.metrics = write(t, rc, &Record{Type: TypeMetrics, Name: "crop-rf", Parents: []objects.ID{sc.model},
		Metrics: map[string]float64{"revenue_per_ha": 812.5}}, RefFor(TypeMetrics, "crop-rf"))
	sc.curated2 = write(t, rc, &Record{Type: TypeDataset, Kind: "dataset", Path: "data/curated.csv", Name: "curated",
		Data: dataID("curated2"), Size: 210, Files: 1}, RefFor(TypeDataset, "curated"))
	sc.failRun = write(t, rc, &Record{Type: TypeRun, Name: "train-rf", Command: []string{"python", "train.py"},
		Status: "failed", ExitCode: 3, Inputs: []IO{{Path: "data/curated.csv", Data: dataID("curated2"), Record: sc.curated2}}},
		RefFor(TypeRun, "train-rf"))
	return sc
}

func (sc *scenario) graph(t testing.TB) *Graph {
	t.Helper()
	g, err := LoadRefs(t.Context(), sc.rc.Store, sc.rc.Refs)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
