package dvcli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

// newRecorder returns a Recorder stamped with the project's git context
// (none outside git).
func newRecorder(ctx context.Context, r *workspace.Repo) (*lineage.Recorder, error) {
	rc := &lineage.Recorder{Store: r.Store, Refs: localRefs(r), Now: time.Now}
	g, err := openGit(r)
	if errors.Is(err, gitrepo.ErrNoGit) {
		return rc, nil
	}
	if err != nil {
		return nil, err
	}
	if rc.Code, err = g.Context(ctx); err != nil {
		return nil, err
	}
	return rc, nil
}

// versionAnnotator records a new data version each time dv add changes a
// pointer (or the pointer has no record yet).
func versionAnnotator(rc *lineage.Recorder, rel string, labelsFor objects.ID) func(context.Context, objects.Putter, *pointer.Pointer, *pointer.Pointer) (func(context.Context) error, error) {
	return func(ctx context.Context, w objects.Putter, p, prev *pointer.Pointer) (func(context.Context) error, error) {
		if prev != nil && prev.OID == p.OID && !p.Record.IsZero() && prev.Kind == p.Kind && prev.Name == p.Name &&
			prev.Desc == p.Desc && fmt.Sprint(prev.Meta) == fmt.Sprint(p.Meta) {
			return nil, nil // nothing new to record
		}
		rec, ref := lineage.Version(rel, p, prev, labelsFor)
		rec.LabelsFor = labelsFor
		id, commit, err := rc.Prepare(ctx, w, rec, ref)
		if err != nil {
			return nil, err
		}
		p.Record = id
		return commit, nil
	}
}
