package compute

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/mem"
	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/traintest"
)

// clone is one job's scratch project sharing remote rem.
func clone(t *testing.T, rem remote.Store) *Worker {
	t.Helper()
	p := traintest.New(t, traintest.Options{})
	return &Worker{Repo: p.Repo, Rec: p.Rec,
		Sync: &remote.Syncer{Local: p.Repo.Store, Remote: rem, Jobs: 2, CacheDir: filepath.Join(p.Repo.Dir, "remotes", "x")}}
}

func record(t *testing.T, w *Worker, name, cmd string) objects.ID {
	t.Helper()
	id, err := w.Rec.Write(context.Background(), &lineage.Record{Type: lineage.TypeRun, Name: name, Command: []string{cmd},
		Status: train.StatusSucceeded}, "runs/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Two jobs of one name finish at once: both started from the same remote
// runs/NAME, the second to push finds it moved. Its record is rebased onto
// the first's, so the history holds both.
func TestPushRebasesAConcurrentRun(t *testing.T) {
	ctx := context.Background()
	rem := mem.New()
	base := clone(t, rem)
	a := record(t, base, "twin", "base")
	if _, err := base.push(ctx, &train.RunResult{Run: a}); err != nil {
		t.Fatal(err)
	}
	j1, j2 := clone(t, rem), clone(t, rem)
	for _, j := range []*Worker{j1, j2} {
		if err := j.applyRefs(ctx, train.RunOptions{Name: "twin"}); err != nil {
			t.Fatal(err)
		}
	}
	r1, r2 := record(t, j1, "twin", "one"), record(t, j2, "twin", "two")
	if _, err := j1.push(ctx, &train.RunResult{Run: r1}); err != nil {
		t.Fatal(err)
	}
	// The second job's run-cache entry names its run: it must follow the
	// run when it is rebased.
	if err := j2.Rec.Refs.CompareAndSwap(ctx, train.CacheRefPrefix+"k2", objects.ID{}, r2); err != nil {
		t.Fatal(err)
	}
	got, err := j2.push(ctx, &train.RunResult{Run: r2})
	if err != nil {
		t.Fatalf("the second job lost its push: %v", err)
	}
	// The remote's runs/twin: two's run (rebased) -> one's run -> base.
	tip, err := readRemoteRef(ctx, j2.Sync, "runs/twin")
	if err != nil {
		t.Fatal(err)
	}
	if got != tip || got == r2 {
		t.Fatalf("push returned run %s, want the rebased %s", got.Short(), tip.Short())
	}
	if c, err := readRemoteRef(ctx, j2.Sync, train.CacheRefPrefix+"k2"); err != nil || c != tip {
		t.Fatalf("remote cache entry: %s, %v; want the rebased run %s", c.Short(), err, tip.Short())
	}
	check := clone(t, rem)
	if _, err := check.Sync.Fetch(ctx, []objects.ID{tip}); err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for id := tip; !id.IsZero(); {
		rec, err := lineage.Load(ctx, check.Repo.Store, id)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, rec.Command[0])
		id = rec.Previous
	}
	if got := strings.Join(cmds, " "); got != "two one base" {
		t.Fatalf("history of runs/twin: %s, want two one base", got)
	}
}

// failRef is a remote on which one ref cannot be written.
type failRef struct {
	remote.Store
	name string
}

func (f failRef) PutIf(ctx context.Context, name string, data []byte, ifMatch string) (string, error) {
	if name == remote.RefsPrefix+f.name {
		return "", errors.New("disk full")
	}
	return f.Store.PutIf(ctx, name, data, ifMatch)
}

// A job whose refs did not all move does not mark its run recorded: the
// submitter never collects it as if they had.
func TestJobRefGoesLast(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	w := clone(t, failRef{Store: rem, name: "runs/x"})
	w.Rec.Code.Commit = "c0ffee"
	w.Getenv = func(k string) string { return map[string]string{"DV_JOB_ID": "7"}[k] }
	w.Stdout, w.Stderr = io.Discard, io.Discard
	spec := &Spec{Version: SpecVersion, Target: "gpu", Engine: Slurm, Name: "x", Command: []string{"true"}, Commit: "c0ffee"}
	plan, err := (&train.Runner{Repo: w.Repo, Rec: w.Rec}).Plan(ctx, spec.RunOptions())
	if err != nil {
		t.Fatal(err)
	}
	spec.CacheKey = plan.CacheKey
	if _, err := w.Run(ctx, spec); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("got %v, want the failed ref", err)
	}
	if id, err := readRemoteRef(ctx, w.Sync, JobRef("gpu", "7")); err != nil || !id.IsZero() {
		t.Fatalf("jobs/gpu/7 on the remote: %s, %v; want none", id.Short(), err)
	}
	// The same job on a remote that takes every ref marks it.
	w2 := clone(t, rem)
	w2.Rec.Code, w2.Getenv, w2.Stdout, w2.Stderr = w.Rec.Code, w.Getenv, io.Discard, io.Discard
	res, err := w2.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := readRemoteRef(ctx, w2.Sync, JobRef("gpu", "7")); err != nil || id != res.Run {
		t.Fatalf("jobs/gpu/7 on the remote: %s, %v; want %s", id.Short(), err, res.Run.Short())
	}
}
