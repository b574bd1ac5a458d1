package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/traintest"
)

// world is a project whose records the test writes by hand.
type world struct {
	*traintest.Project
	t  *testing.T
	r  *workspace.Repo
	rc *lineage.Recorder
}

func newWorld(t *testing.T) *world {
	t.Helper()
	p := traintest.New(t, traintest.Options{Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	return &world{Project: p, t: t, r: p.Repo, rc: p.Rec}
}

func (w *world) write(rec *lineage.Record, ref string) objects.ID { return w.Write(rec, ref) }

// trained writes a dataset version, a run on it and the model version it
// made; it returns the dataset and model version ids.
func (w *world) trained() (data, model objects.ID) {
	data = w.write(&lineage.Record{Type: lineage.TypeDataset, Path: "train.csv", Data: objects.ID{1}}, "datasets/train.csv")
	run := w.write(&lineage.Record{Type: lineage.TypeRun, Name: "crop", Command: []string{"true"}, Status: "succeeded",
		Inputs: []lineage.IO{{Path: "train.csv", Data: objects.ID{1}, Record: data}}, Parents: []objects.ID{data}}, "runs/crop")
	model = w.write(&lineage.Record{Type: lineage.TypeModel, Name: "crop", Path: "model", Data: objects.ID{2}, Run: run,
		Parents: []objects.ID{run}, Number: 1}, "models/crop")
	return data, model
}

func (w *world) drift(model objects.ID, detected bool) objects.ID {
	d := &lineage.Drift{Detected: detected, Checked: 2, Share: 0.5,
		Columns: []lineage.DriftColumn{{Column: "yield", Drift: detected}, {Column: "soil"}}}
	if detected {
		d.Drifted = 1
	}
	return w.write(&lineage.Record{Type: lineage.TypeDrift, Name: "crop", Model: model, Parents: []objects.ID{model}, Drift: d}, "drift/crop")
}

func (w *world) stale(cfg string) *StaleReport {
	w.t.Helper()
	c, err := workspace.DecodeConfig([]byte(cfg))
	if err != nil {
		w.t.Fatal(err)
	}
	rep, err := Stale(w.t.Context(), w.r.Store, w.rc.Refs, c, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func kinds(rep *StaleReport) string {
	var out []string
	for _, sm := range rep.Stale {
		for _, r := range sm.Reasons {
			out = append(out, sm.Label()+":"+r.Kind)
		}
	}
	return strings.Join(out, " ")
}

func TestStaleDrift(t *testing.T) {
	w := newWorld(t)
	_, model := w.trained()
	if got := kinds(w.stale("")); got != "" {
		t.Fatalf("fresh model stale: %s", got)
	}
	check := w.drift(model, true)
	rep := w.stale("")
	if got := kinds(rep); got != "crop:drift" {
		t.Fatalf("after a drifted check: %q", got)
	}
	r := rep.Stale[0].Reasons[0]
	if r.Record != check || !strings.HasSuffix(r.Detail, "found drift in 1 of 2 columns: yield") || *r.Value != 0.5 || *r.Bound != 0.5 {
		t.Errorf("reason %+v (%s)", r, r.Detail)
	}
	if got := kinds(w.stale("retrain:\n  on: [new-data, metrics]\n")); got != "" {
		t.Errorf("drift counted though the policy leaves it out: %s", got)
	}
	// The latest check decides: one without drift clears it.
	w.drift(model, false)
	if got := kinds(w.stale("")); got != "" {
		t.Errorf("after a clean check: %q", got)
	}
	// A check of another model's data does not count.
	w.write(&lineage.Record{Type: lineage.TypeModel, Name: "other", Data: objects.ID{9}, Number: 1}, "models/other")
	w.drift(objects.ID{7}, true)
	if got := kinds(w.stale("")); got != "" {
		t.Errorf("another model's check counted: %q", got)
	}
}

func TestStaleNewDataAndMetrics(t *testing.T) {
	w := newWorld(t)
	data, model := w.trained()
	// Same data re-recorded (a metadata change): not new data.
	w.write(&lineage.Record{Type: lineage.TypeDataset, Path: "train.csv", Data: objects.ID{1}, Desc: "notes"}, "datasets/train.csv")
	if got := kinds(w.stale("")); got != "" {
		t.Fatalf("metadata change counted as new data: %s", got)
	}
	newer := w.write(&lineage.Record{Type: lineage.TypeDataset, Path: "train.csv", Data: objects.ID{3}}, "datasets/train.csv")
	w.write(&lineage.Record{Type: lineage.TypeMetrics, Name: "crop", Parents: []objects.ID{model},
		Metrics: map[string]float64{"rmse": 2.5, "auc": 0.9},
		Meta:    map[string]string{"source": "production", "observed": "2026-12-01T08:30:00Z"}}, ObservedRef("crop"))
	rep := w.stale("promotion:\n  criteria:\n    - {metric: rmse, direction: lower, threshold: 2}\n    - {metric: auc, direction: higher, threshold: 0.8}\n")
	if got := kinds(rep); got != "crop:new-data crop:metrics" {
		t.Fatalf("reasons %q", got)
	}
	nd, mt := rep.Stale[0].Reasons[0], rep.Stale[0].Reasons[1]
	if nd.Record != newer || nd.Old != data || nd.Ref != "datasets/train.csv" || !strings.Contains(nd.Detail, "has a newer version") {
		t.Errorf("new-data %+v", nd)
	}
	if mt.Metric != "rmse" || *mt.Value != 2.5 || *mt.Bound != 2 || !strings.Contains(mt.Detail, "(observed 2026-12-01 08:30)") {
		t.Errorf("metrics %+v", mt)
	}
	ev := rep.Stale[0].Alert()
	if ev.Event != "stale" || ev.Version != "v1" || ev.Record != newer.String() || !strings.Contains(ev.Reason, "; metrics: production rmse = 2.5") {
		t.Errorf("alert %+v", ev)
	}
}
