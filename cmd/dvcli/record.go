package dvcli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
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

// resolveVersion finds the record a user names: a tracked path (its
// pointer's record), a ref name (datasets/crop, or crop for datasets), or a
// record id.
func resolveVersion(r *workspace.Repo, target string) (objects.ID, error) {
	if rel, err := r.Rel(target); err == nil {
		if p, err := pointer.Read(r.Abs(rel) + pointer.Ext); err == nil {
			if p.Record.IsZero() {
				return objects.ID{}, fmt.Errorf("%s: has no record yet (run dv add %s)", target, target)
			}
			return p.Record, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return objects.ID{}, err
		}
	}
	st := localRefs(r)
	for _, name := range []string{target, "datasets/" + target, "labels/" + target, "models/" + target, "runs/" + target} {
		if refs.ValidName(name) != nil {
			continue
		}
		if id, err := st.Get(name); err == nil {
			return id, nil
		}
	}
	if id, err := r.Store.Resolve(target); err == nil {
		return id, nil
	}
	return objects.ID{}, fmt.Errorf("%s: not a tracked path, a ref or a record id", target)
}
