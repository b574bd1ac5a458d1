package train

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	gitrepo "github.com/dv-ml/dv/refs/git"
	"github.com/dv-ml/dv/train/traintest"
)

// tstProject is a git work tree with a dv project, a Runner on it, and a
// file outside it that test commands append to, to count executions.
type tstProject struct {
	t       *testing.T
	root    string
	r       *workspace.Repo
	rn      *Runner
	counter string
}

func newProject(t *testing.T) *tstProject {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("sh is not installed")
	}
	p := traintest.New(t, traintest.Options{Git: true, Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Step: time.Second,
		Code: gitrepo.Context{Tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904"}})
	return &tstProject{t: t, root: p.Root, r: p.Repo, rn: &Runner{Repo: p.Repo, Rec: p.Rec},
		counter: filepath.Join(t.TempDir(), "counter")}
}

func (p *tstProject) write(rel, content string) {
	p.t.Helper()
	abs := p.r.Abs(rel)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(abs, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// add tracks rel and records a dataset version, as dv add does.
func (p *tstProject) add(rel string) *pointer.Pointer {
	p.t.Helper()
	res, err := p.r.Add(p.t.Context(), rel, workspace.AddOptions{
		Annotate: func(ctx context.Context, w objects.Putter, ptr, _ *pointer.Pointer) (func(context.Context) error, error) {
			rec := &lineage.Record{Type: lineage.TypeDataset, Path: rel, Data: ptr.OID}
			id, commit, err := p.rn.Rec.Prepare(ctx, w, rec, lineage.RefFor(lineage.TypeDataset, rel))
			ptr.Record = id
			return commit, err
		}})
	if err != nil {
		p.t.Fatal(err)
	}
	return res.Pointer
}

func (p *tstProject) runs() int {
	b, _ := os.ReadFile(p.counter)
	return strings.Count(string(b), "\n")
}

func (p *tstProject) load(id objects.ID) *lineage.Record {
	p.t.Helper()
	rec, err := lineage.Load(p.t.Context(), p.r.Store, id)
	if err != nil {
		p.t.Fatal(err)
	}
	return rec
}

func (p *tstProject) pointer(rel string) *pointer.Pointer {
	p.t.Helper()
	ptr, err := pointer.Read(p.r.Abs(rel) + pointer.Ext)
	if err != nil {
		p.t.Fatal(err)
	}
	return ptr
}

// etl is a step that upper-cases data/raw.csv into out/clean.csv with
// the param "suffix" appended, counting its executions.
func (p *tstProject) etl(params map[string]string, force bool) (*RunResult, error) {
	script := `echo run >> "$COUNTER"; mkdir -p out; tr a-z A-Z < data/raw.csv > out/clean.csv; ` +
		`echo "$DV_PARAM_SUFFIX" >> out/clean.csv; cat "$DV_PARAMS_FILE"; echo to-stderr >&2`
	return p.rn.Run(p.t.Context(), RunOptions{Name: "prep", Command: []string{"sh", "-c", script},
		Deps: []string{"data/raw.csv"}, Outs: []string{"out/clean.csv"}, Params: params, Force: force})
}

func TestRunRecordsAndCaches(t *testing.T) {
	p := newProject(t)
	t.Setenv("COUNTER", p.counter)
	p.write("data/raw.csv", "a,b\n1,2\n")
	in := p.add("data/raw.csv")

	res, err := p.etl(map[string]string{"suffix": "x"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cached || res.Status != StatusSucceeded || p.runs() != 1 || res.CacheKey == "" {
		t.Fatalf("first run: %+v, %d executions", res, p.runs())
	}
	if b, _ := os.ReadFile(p.r.Abs("out/clean.csv")); string(b) != "A,B\n1,2\nx\n" {
		t.Fatalf("output %q", b)
	}
	run := p.load(res.Run)
	if run.Type != lineage.TypeRun || run.Name != "prep" || run.Params["suffix"] != "x" || run.ExitCode != 0 ||
		run.Status != StatusSucceeded || !run.End.After(run.Start) || run.Env == nil || run.CacheKey != res.CacheKey {
		t.Fatalf("run record %+v", run)
	}
	if len(run.Inputs) != 1 || run.Inputs[0] != (lineage.IO{Path: "data/raw.csv", Data: in.OID, Record: in.Record}) ||
		!slices.Equal(run.Parents, []objects.ID{in.Record}) {
		t.Fatalf("inputs %+v parents %v", run.Inputs, run.Parents)
	}
	out := p.pointer("out/clean.csv")
	if len(run.Outputs) != 1 || run.Outputs[0].Path != "out/clean.csv" || run.Outputs[0].Data != out.OID {
		t.Fatalf("outputs %+v, pointer %+v", run.Outputs, out)
	}
	if !slices.Contains(run.Objects, run.Log) {
		t.Fatalf("the run does not hold its log: %v", run.Objects)
	}
	var log strings.Builder
	if _, err := p.r.Store.ReadFile(t.Context(), run.Log, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `"suffix": "x"`) || !strings.Contains(log.String(), "to-stderr") {
		t.Fatalf("log %q lacks the params file or stderr", log.String())
	}
	ver := p.load(out.Record)
	if ver.Type != lineage.TypeDataset || ver.Run != res.Run || !slices.Equal(ver.Parents, []objects.ID{res.Run}) || ver.Data != out.OID {
		t.Fatalf("output version %+v", ver)
	}
	if id, _ := p.rn.Rec.Refs.Get("runs/prep"); id != res.Run {
		t.Fatalf("runs/prep = %s", id.Short())
	}

	// The same run again: served from the cache, quickly, nothing executed
	// or recorded.
	start := time.Now()
	hit, err := p.etl(map[string]string{"suffix": "x"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cache hit took %s", d)
	}
	if left, _ := filepath.Glob(filepath.Join(p.r.Dir, "run-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if !hit.Cached || hit.Run != res.Run || p.runs() != 1 || p.pointer("out/clean.csv").Record != out.Record {
		t.Fatalf("second run: %+v, %d executions", hit, p.runs())
	}
	// Another param runs; going back is a cache hit that restores the
	// output and records a version made by the first run.
	if res2, err := p.etl(map[string]string{"suffix": "y"}, false); err != nil || res2.Cached || p.runs() != 2 {
		t.Fatalf("changed param: %+v %v", res2, err)
	}
	back, err := p.etl(map[string]string{"suffix": "x"}, false)
	if err != nil || !back.Cached || p.runs() != 2 {
		t.Fatalf("back to the first param: %+v %v", back, err)
	}
	if b, _ := os.ReadFile(p.r.Abs("out/clean.csv")); string(b) != "A,B\n1,2\nx\n" {
		t.Fatalf("restored output %q", b)
	}
	restored := p.pointer("out/clean.csv")
	if restored.OID != out.OID || p.load(restored.Record).Run != res.Run {
		t.Fatalf("restored pointer %+v", restored)
	}
	// --force runs anyway; a changed input runs.
	if f, err := p.etl(map[string]string{"suffix": "x"}, true); err != nil || f.Cached || p.runs() != 3 {
		t.Fatalf("--force: %+v %v", f, err)
	}
	p.write("data/raw.csv", "a,b\n3,4\n")
	p.add("data/raw.csv")
	if c, err := p.etl(map[string]string{"suffix": "x"}, false); err != nil || c.Cached || p.runs() != 4 {
		t.Fatalf("changed input: %+v %v", c, err)
	}
	runs, err := ListRuns(t.Context(), p.r.Store, p.rn.Rec.Refs, "prep")
	if err != nil || len(runs) != 4 || runs[0].Start.Before(runs[3].Start) {
		t.Fatalf("ListRuns: %d runs, %v", len(runs), err)
	}
}

func TestRunRefusesUnpinnedDeps(t *testing.T) {
	p := newProject(t)
	p.write("data/raw.csv", "a\n")
	p.write("data/dir/x", "x")
	p.write("notes.txt", "n")
	p.add("data/raw.csv")
	p.add("data/dir")
	run := func(dep string) error {
		_, err := p.rn.Run(t.Context(), RunOptions{Name: "s", Command: []string{"true"}, Deps: []string{dep}})
		return err
	}
	if err := run("data/dir/x"); err != nil {
		t.Fatalf("a file inside tracked data is a valid input: %v", err)
	}
	p.write("data/raw.csv", "changed\n")
	p.write("data/dir/x", "changed")
	for dep, want := range map[string]string{
		"data/raw.csv": "data/raw.csv: modified since dv add; run dv add data/raw.csv first",
		"data/dir/x":   "data/dir/x: modified since dv add; run dv add data/dir first",
		"notes.txt":    "notes.txt: not tracked by dv; run dv add notes.txt first",
	} {
		if err := run(dep); err == nil || err.Error() != want {
			t.Errorf("dep %s: err = %v, want %q", dep, err, want)
		}
	}
	if err := os.Remove(p.r.Abs("data/raw.csv")); err != nil {
		t.Fatal(err)
	}
	if err := run("data/raw.csv"); err == nil || !strings.Contains(err.Error(), "deleted since dv add") {
		t.Errorf("deleted dep: %v", err)
	}
	if _, err := os.Stat(p.counter); err == nil {
		t.Fatal("a refused run executed")
	}
	if _, err := p.rn.Rec.Refs.Get("runs/s"); err != nil {
		t.Fatalf("the valid run is recorded: %v", err)
	}
}

func TestRunFailed(t *testing.T) {
	p := newProject(t)
	res, err := p.rn.Run(t.Context(), RunOptions{Name: "bad", Outs: []string{"out.txt"},
		Command: []string{"sh", "-c", "echo partial > out.txt; echo oops; exit 3"}})
	var fe *FailedError
	if !errors.As(err, &fe) || fe.ExitCode != 3 || fe.Run != res.Run {
		t.Fatalf("err = %v", err)
	}
	if want := "run bad failed: sh exited with status 3"; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("message %q", err)
	}
	run := p.load(res.Run)
	if run.Status != StatusFailed || run.ExitCode != 3 || len(run.Outputs) != 0 || run.Log.IsZero() {
		t.Fatalf("failed run record %+v", run)
	}
	if id, _ := p.rn.Rec.Refs.Get("runs/bad"); id != res.Run {
		t.Fatal("runs/bad did not move to the failed run")
	}
	if _, err := os.Stat(p.r.Abs("out.txt") + pointer.Ext); err == nil {
		t.Fatal("a failed run stored its output")
	}
	if names, _, _ := p.rn.Rec.Refs.List(); slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, CacheRefPrefix) }) {
		t.Fatal("a failed run entered the run cache")
	}
	// A command that succeeds without writing its output fails the run.
	_, err = p.rn.Run(t.Context(), RunOptions{Name: "lazy", Outs: []string{"never"}, Command: []string{"true"}})
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "did not create the output never") {
		t.Fatalf("missing output: %v", err)
	}
	// A command that cannot start is an error, not a run.
	if _, err := p.rn.Run(t.Context(), RunOptions{Name: "x", Command: []string{"no-such-command-dv"}}); err == nil || errors.As(err, &fe) {
		t.Fatalf("unstartable command: %v", err)
	}
}

func TestTrain(t *testing.T) {
	p := newProject(t)
	t.Setenv("COUNTER", p.counter)
	p.write("data/train.csv", "x,y\n1,2\n")
	p.add("data/train.csv")
	train := func(lr string) (*RunResult, error) {
		script := `echo run >> "$COUNTER"; mkdir -p model; echo "w $DV_PARAM_LR" > model/w.bin; ` +
			`echo "{\"acc\": 0.$DV_PARAM_LR, \"val\": {\"rmse\": 2}}" > metrics.json`
		return p.rn.Run(t.Context(), RunOptions{Name: "clf", Command: []string{"sh", "-c", script},
			Deps: []string{"data/train.csv"}, Outs: []string{"model"}, Params: map[string]string{"lr": lr},
			Model: &ModelOptions{Name: "clf", Path: "model", MetricsFile: "metrics.json"}})
	}
	res, err := train("9")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"acc": 0.9, "val.rmse": 2}
	model := p.load(res.Model)
	if model.Type != lineage.TypeModel || model.Name != "clf" || model.Run != res.Run || !mapsEqual(model.Metrics, want) ||
		!slices.Contains(model.Objects, model.Data) {
		t.Fatalf("model version %+v", model)
	}
	if id, _ := p.rn.Rec.Refs.Get("models/clf"); id != res.Model {
		t.Fatal("models/clf does not name the model version")
	}
	mid, err := p.rn.Rec.Refs.Get("metrics/clf")
	if err != nil {
		t.Fatal(err)
	}
	mrec := p.load(mid)
	if mrec.Type != lineage.TypeMetrics || !slices.Equal(mrec.Parents, []objects.ID{res.Model}) || !mapsEqual(mrec.Metrics, want) {
		t.Fatalf("metrics record %+v", mrec)
	}
	if m, err := MetricsOf(t.Context(), p.r.Store, res.Run); err != nil || !mapsEqual(m.Metrics, want) {
		t.Fatalf("MetricsOf(run) = %v, %v", m, err)
	}
	if _, err := train("5"); err != nil {
		t.Fatal(err)
	}
	hit, err := train("9")
	if err != nil || !hit.Cached || p.runs() != 2 || !mapsEqual(hit.Metrics, want) {
		t.Fatalf("cache hit %+v %v", hit, err)
	}
	if b, _ := os.ReadFile(p.r.Abs("metrics.json")); !strings.Contains(string(b), "0.9") {
		t.Fatalf("the metrics file was not restored: %q", b)
	}
	if m, err := MetricsOf(t.Context(), p.r.Store, hit.Model); err != nil || !mapsEqual(m.Metrics, want) || p.pointer("model").Record != hit.Model {
		t.Fatalf("restored model version: %v %v", m, err)
	}
	// Bad metrics fail the run.
	p.write("bad.sh", "")
	_, err = p.rn.Run(t.Context(), RunOptions{Name: "m2", Outs: []string{"m2"},
		Command: []string{"sh", "-c", "echo w > m2; echo '[1]' > bad.json"},
		Model:   &ModelOptions{Name: "m2", Path: "m2", MetricsFile: "bad.json"}})
	if err == nil || !strings.Contains(err.Error(), "metrics file bad.json: want a JSON object") {
		t.Fatalf("bad metrics: %v", err)
	}
}

func TestRunOptionsValidate(t *testing.T) {
	for _, o := range []RunOptions{
		{Command: []string{"x"}},
		{Name: "a b", Command: []string{"x"}},
		{Name: "../x", Command: []string{"x"}},
		{Name: "ok"},
		{Name: "ok", Command: []string{"x"}, Model: &ModelOptions{Name: "m", Path: "model"}},
	} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	p := newProject(t)
	p.write("d", "x")
	p.add("d")
	for outs, want := range map[string]string{
		"d":   "d: is both an input",
		"a,a": "a: named twice",
	} {
		_, err := p.rn.Run(t.Context(), RunOptions{Name: "s", Command: []string{"true"}, Deps: []string{"d"}, Outs: strings.Split(outs, ",")})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("outs %s: %v", outs, err)
		}
	}
}

// TestRunRefNameConflict: a run whose runs/, models/ or metrics/ ref
// would be a directory of an existing ref (or have one as a directory)
// is refused before its command runs, naming both refs.
func TestRunRefNameConflict(t *testing.T) {
	p := newProject(t)
	t.Setenv("COUNTER", p.counter)
	w := func(typ, name string) {
		if _, err := p.rn.Rec.Write(t.Context(), &lineage.Record{Type: typ, Name: name}, lineage.RefFor(typ, name)); err != nil {
			t.Fatal(err)
		}
	}
	w(lineage.TypeRun, "team")
	w(lineage.TypeModel, "a/b")
	w(lineage.TypeMetrics, "c")
	script := `echo run >> "$COUNTER"; mkdir -p model; echo w > model/w.bin; echo '{"acc": 1}' > m.json`
	for _, tc := range []struct{ name, model, metrics, ref, existing string }{
		{name: "team/crop", ref: "runs/team/crop", existing: "runs/team"},
		{name: "team/crop", model: "team/crop", ref: "runs/team/crop", existing: "runs/team"},
		{name: "a", model: "a", ref: "models/a", existing: "models/a/b"},
		{name: "c/d", model: "c/d", metrics: "m.json", ref: "metrics/c/d", existing: "metrics/c"},
	} {
		o := RunOptions{Name: tc.name, Command: []string{"sh", "-c", script}, Outs: []string{"model"}}
		if tc.model != "" {
			o.Model = &ModelOptions{Name: tc.model, Path: "model", MetricsFile: tc.metrics}
		}
		_, err := p.rn.Run(t.Context(), o)
		var ne *refs.NameConflictError
		if !errors.As(err, &ne) || ne.Name != tc.ref || ne.Existing != tc.existing {
			t.Errorf("run %s (model %q): %v, want a conflict of %s with %s", tc.name, tc.model, err, tc.ref, tc.existing)
		}
	}
	names, _, err := p.rn.Rec.Refs.List()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"metrics/c", "models/a/b", "runs/team"}; !slices.Equal(names, want) {
		t.Errorf("refs %v, want only %v", names, want)
	}
	if n := p.runs(); n != 0 {
		t.Fatalf("the command ran %d times", n)
	}
}
