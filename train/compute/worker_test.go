package compute

import (
	"context"
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
	if err := base.push(ctx, &train.RunResult{Run: a}); err != nil {
		t.Fatal(err)
	}
	j1, j2 := clone(t, rem), clone(t, rem)
	for _, j := range []*Worker{j1, j2} {
		if err := j.applyRefs(ctx, train.RunOptions{Name: "twin"}); err != nil {
			t.Fatal(err)
		}
	}
	r1, r2 := record(t, j1, "twin", "one"), record(t, j2, "twin", "two")
	if err := j1.push(ctx, &train.RunResult{Run: r1}); err != nil {
		t.Fatal(err)
	}
	if err := j2.push(ctx, &train.RunResult{Run: r2}); err != nil {
		t.Fatalf("the second job lost its push: %v", err)
	}
	// The remote's runs/twin: two's run (rebased) -> one's run -> base.
	tip, err := readRemoteRef(ctx, j2.Sync, "runs/twin")
	if err != nil {
		t.Fatal(err)
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
