package lineage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

// Recorder writes records: it stamps them with who, when and which
// commit, stores them durably and moves their ref.
type Recorder struct {
	Store *objects.Store
	Refs  *refs.Store
	Code  gitrepo.Context // the git context ("" commit outside git)
	Now   func() time.Time
}

// RefFor returns the ref a record of this type and name moves.
func RefFor(typ, name string) string {
	prefix := map[string]string{
		TypeDataset: "datasets", TypeLabels: "labels", TypeModel: "models",
		TypeRun: "runs", TypeImport: "imports", TypeMetrics: "metrics", TypePromotion: "events", TypeDrift: "drift",
	}[typ]
	return prefix + "/" + refs.SafeRefPart(name)
}

// Write stamps r, stores it, and moves ref (when not empty) from its
// current value to the new record. When r.Previous is unset it becomes the
// ref's current value, so versions of one name form a chain.
func (rc *Recorder) Write(ctx context.Context, r *Record, ref string) (objects.ID, error) {
	w := rc.Store.NewWriter()
	id, commit, err := rc.Prepare(ctx, w, r, ref)
	if err != nil {
		w.Abort()
		return id, err
	}
	if err := w.Flush(ctx); err != nil {
		return id, err
	}
	return id, commit(ctx)
}

// Prepare stamps r and puts it to w; the returned commit moves ref and
// must run only once w's objects are durable (after Flush).
func (rc *Recorder) Prepare(ctx context.Context, w objects.Putter, r *Record, ref string) (objects.ID, func(context.Context) error, error) {
	if r.Time.IsZero() {
		r.Time = rc.Now().UTC()
	}
	r.Who = Person{Name: rc.Code.Name, Email: rc.Code.Email}
	r.Commit, r.Dirty = rc.Code.Commit, rc.Code.Dirty
	var cur objects.ID
	if ref != "" {
		var err error
		cur, err = rc.Refs.Get(ref)
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			return objects.ID{}, nil, err
		}
		if r.Previous.IsZero() && cur != (objects.ID{}) {
			r.Previous = cur
		}
		if r.Type == TypeModel && r.Number == 0 {
			if r.Number, err = nextNumber(ctx, rc.Store, cur); err != nil {
				return objects.ID{}, nil, fmt.Errorf("number a version of %s: %w", ref, err)
			}
			if r.Skip, err = SkipFor(ctx, rc.Store, cur, r.Number, VersionNumber); err != nil {
				return objects.ID{}, nil, fmt.Errorf("number a version of %s: %w", ref, err)
			}
		}
	}
	id, err := Put(ctx, w, r)
	if err != nil {
		return id, nil, err
	}
	commit := func(ctx context.Context) error {
		if ref == "" {
			return nil
		}
		if err := rc.Refs.CompareAndSwap(ctx, ref, cur, id); err != nil {
			return fmt.Errorf("record %s: %w", ref, err)
		}
		return nil
	}
	return id, commit, nil
}

// nextNumber is the number of the model version after head (the ref's
// current record; zero: none). A head written before versions had numbers
// is counted along its chain, once.
func nextNumber(ctx context.Context, s *objects.Store, head objects.ID) (int, error) {
	n := 0
	for id := head; !id.IsZero(); n++ {
		r, err := Load(ctx, s, id)
		if err != nil {
			return 0, err
		}
		if r.Number > 0 {
			return r.Number + n + 1, nil
		}
		id = r.Previous
	}
	return n + 1, nil
}
