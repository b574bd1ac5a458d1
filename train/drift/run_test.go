package drift

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/train/registry"
	"github.com/dv-ml/dv/train/traintest"
)

func writeColumn(t *testing.T, path string, shift int) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("x\n")
	for i := range 200 {
		fmt.Fprintf(&sb, "%d\n", i+shift)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunFiles: Run reads files on disk as they are, records the check,
// and its report's Alert is the drift event, only when the data drifted.
func TestRunFiles(t *testing.T) {
	p := traintest.New(t, traintest.Options{})
	t.Chdir(p.Root)
	writeColumn(t, "ref.csv", 0)
	writeColumn(t, "same.csv", 0)
	writeColumn(t, "new.csv", 1000)
	opts := Options{Threshold: math.NaN(), Recorder: p.Rec}

	rep, err := Run(t.Context(), p.Repo, "ref.csv", "same.csv", opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Drift.Detected || rep.Record.IsZero() {
		t.Fatalf("same data: detected %v, record %v", rep.Drift.Detected, rep.Record)
	}
	if _, ok := rep.Alert(); ok {
		t.Error("an alert without drift")
	}

	rep, err = Run(t.Context(), p.Repo, "ref.csv", "new.csv", opts)
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := rep.Alert()
	if !ok {
		t.Fatalf("no alert for drifted data: %+v", rep.Drift)
	}
	want := "drift drift drifted columns 1 0.5 DRIFT: 1 of 1 columns (x) of new.csv drifted from ref.csv " + rep.Record.String() + "  "
	got := fmt.Sprintf("%s %s %s %g %g %s %s %s %s", ev.Event, ev.Verdict, ev.Metric, *ev.Value, *ev.Threshold, ev.Reason, ev.Record, ev.Model, ev.Version)
	if got != want {
		t.Errorf("alert\n got %s\nwant %s", got, want)
	}
}

// TestRunDataAtID: DATA@ID names a version of tracked data by its record
// id; an id of other data is refused, naming both; a name the resolver
// does not know keeps the resolver's error.
func TestRunDataAtID(t *testing.T) {
	p := traintest.New(t, traintest.Options{})
	t.Chdir(p.Root)
	writeColumn(t, "cur.csv", 0)
	p.Write(&lineage.Record{Type: lineage.TypeDataset, Name: "a", Path: "a.csv"}, lineage.RefFor(lineage.TypeDataset, "a"))
	b := p.Write(&lineage.Record{Type: lineage.TypeDataset, Name: "b", Path: "b.csv"}, lineage.RefFor(lineage.TypeDataset, "b"))
	opts := Options{Threshold: math.NaN(), Recorder: p.Rec}
	_, err := Run(t.Context(), p.Repo, "a@"+b.String(), "cur.csv", opts)
	if err == nil || !strings.HasPrefix(err.Error(), "a@"+b.String()+": "+b.Short()+" is a version of ") || !strings.Contains(err.Error(), ", not of ") {
		t.Errorf("another data's id: got %v", err)
	}
	_, err = Run(t.Context(), p.Repo, "nosuch@"+b.String(), "cur.csv", opts)
	_, want := registry.Resolve(t.Context(), p.Repo, p.Repo.Refs(), "nosuch@"+b.String())
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Errorf("an unknown name: got %v, want the resolver's %v", err, want)
	}
	names, _, err := p.Refs.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "drift/") {
			t.Errorf("a check that did not run was recorded: %s", n)
		}
	}
}

// TestAlertModel: a reference named through a model puts the model, the
// alias and the version (vN when known, else the short id) in the event.
func TestAlertModel(t *testing.T) {
	model := objects.ID{1, 2, 3}
	rep := &Report{Name: "data/train.csv", Current: lineage.IO{Path: "new.csv"}, Model: model,
		Drift: lineage.Drift{Detected: true, Drifted: 2, Checked: 4, Share: 0.5, Columns: []lineage.DriftColumn{
			{Column: "a", Drift: true}, {Column: "b"}, {Column: "c", Drift: true}, {Column: "d"}}},
		target: registry.Target{Model: "crop", Alias: "production", Number: 3}}
	ev, ok := rep.Alert()
	if !ok || ev.Model != "crop" || ev.Alias != "production" || ev.Version != "v3" || *ev.Threshold != 2 ||
		ev.Reason != "DRIFT: 2 of 4 columns (a, c) of new.csv drifted from data/train.csv" {
		t.Errorf("alert %+v", ev)
	}
	rep.target.Number = 0
	if ev, _ := rep.Alert(); ev.Version != model.Short() {
		t.Errorf("version %q, want %q", ev.Version, model.Short())
	}
}
