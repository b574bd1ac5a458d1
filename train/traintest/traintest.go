// Package traintest builds dv projects for the tests of the train packages
// (never dv itself): a dv project in a temporary directory, opened, with its
// refs and a lineage recorder on a clock the test chooses.
package traintest

import (
	"os/exec"
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

// Options shape the project New builds.
type Options struct {
	// Git runs git init in the directory first, with HOME set to an empty
	// temporary directory; without git on PATH the test is skipped.
	Git bool
	// Start and Step set the recorder's clock: its calls return Start+Step,
	// Start+2*Step, ... (Step 0: one minute). A zero Start uses time.Now.
	Start time.Time
	Step  time.Duration
	// Code is the git context the recorder stamps on records.
	Code gitrepo.Context
}

// Project is a dv project in a temporary directory, closed when the test ends.
type Project struct {
	T    testing.TB
	Root string
	Repo *workspace.Repo
	Refs *refs.Store
	Rec  *lineage.Recorder
}

// New makes the project: (git init,) dv init, open, refs, recorder.
func New(t testing.TB, o Options) *Project {
	t.Helper()
	if o.Git {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skip("git is not installed")
		}
		t.Setenv("HOME", t.TempDir())
	}
	root := t.TempDir()
	if o.Git {
		cmd := exec.Command("git", "init", "-q")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git init: %v\n%s", err, out)
		}
	}
	if err := workspace.Init(root); err != nil {
		t.Fatal(err)
	}
	r, err := workspace.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	rs := r.Refs()
	now := time.Now
	if !o.Start.IsZero() {
		now = Clock(o.Start, o.Step)
	}
	rc := &lineage.Recorder{Store: r.Store, Refs: rs, Code: o.Code, Now: now}
	return &Project{T: t, Root: root, Repo: r, Refs: rs, Rec: rc}
}

// Clock returns start+step, start+2*step, ... on successive calls (step 0:
// one minute).
func Clock(start time.Time, step time.Duration) func() time.Time {
	if step == 0 {
		step = time.Minute
	}
	clock := start
	return func() time.Time { clock = clock.Add(step); return clock }
}

// Write records rec and moves ref to it, failing the test on an error.
func (p *Project) Write(rec *lineage.Record, ref string) objects.ID {
	p.T.Helper()
	id, err := p.Rec.Write(p.T.Context(), rec, ref)
	if err != nil {
		p.T.Fatal(err)
	}
	return id
}
