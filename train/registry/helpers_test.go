package registry

import (
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	gitrepo "github.com/dv-ml/dv/refs/git"
	"github.com/dv-ml/dv/train/traintest"
)

type project struct {
	t  *testing.T
	p  *traintest.Project
	r  *workspace.Repo
	rs *refs.Store
	rc *lineage.Recorder
}

func newProject(t *testing.T) *project {
	t.Helper()
	p := traintest.New(t, traintest.Options{Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Code: gitrepo.Context{Name: "Ada"}})
	return &project{t: t, p: p, r: p.Repo, rs: p.Refs, rc: p.Rec}
}

// record writes a record of typ named name with metrics, moving its ref.
func (p *project) record(typ, name string, metrics map[string]float64) objects.ID {
	p.t.Helper()
	return p.p.Write(&lineage.Record{Type: typ, Name: name, Metrics: metrics}, lineage.RefFor(typ, name))
}

func (p *project) model(name string, metrics map[string]float64) objects.ID {
	return p.record(lineage.TypeModel, name, metrics)
}
