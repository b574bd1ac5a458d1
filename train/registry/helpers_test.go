package registry

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

type project struct {
	t  *testing.T
	r  *workspace.Repo
	rs *refs.Store
	rc *lineage.Recorder
}

func newProject(t *testing.T) *project {
	t.Helper()
	root := t.TempDir()
	if err := workspace.Init(root); err != nil {
		t.Fatal(err)
	}
	r, err := workspace.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	rs := refs.Open(filepath.Join(r.Dir, "refs"))
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rc := &lineage.Recorder{Store: r.Store, Refs: rs, Code: gitrepo.Context{Name: "Ada"},
		Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}
	return &project{t: t, r: r, rs: rs, rc: rc}
}

// record writes a record of typ named name with metrics, moving its ref.
func (p *project) record(typ, name string, metrics map[string]float64) objects.ID {
	p.t.Helper()
	rec := &lineage.Record{Type: typ, Name: name, Metrics: metrics}
	id, err := p.rc.Write(context.Background(), rec, lineage.RefFor(typ, name))
	if err != nil {
		p.t.Fatal(err)
	}
	return id
}

func (p *project) model(name string, metrics map[string]float64) objects.ID {
	return p.record(lineage.TypeModel, name, metrics)
}
