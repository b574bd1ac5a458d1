package remote

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// PullOptions says what Pull fetches.
type PullOptions struct {
	// Roots returns the objects to fetch. It may fail with an
	// *objects.NotFoundError naming a tree that is not local yet (a path
	// inside tracked data needs the trees above it): Pull fetches that
	// object from the remote and asks again.
	Roots func(ctx context.Context) ([]objects.ID, error)
	// Refs, when set, are the local refs: the remote's refs are fetched
	// with their data and applied to them (a full pull). Nil for a pull of
	// some paths only.
	Refs *refs.Store
	// Into, when set, makes a sink for the fetched blobs once the trees
	// and lists are local (FetchInto): a checkout that writes them into
	// place as they arrive.
	Into func(ctx context.Context, meta Fetched) BlobSink
}

// PullResult is what Pull did.
type PullResult struct {
	Stats FetchStats
	// Unheld are the remote refs naming data neither side holds; they
	// are not applied (a local ref never names missing data).
	Unheld map[string]objects.ID
	// Diverged are the refs whose local value differs from the remote's
	// and was kept.
	Diverged []string
	// Remote are the remote's refs that were applied (a full pull), for
	// callers that settle diverged refs of their own (registry.Reconcile).
	Remote map[string]objects.ID
}

// Pull downloads what the roots need (fetching the trees that computing
// them needs first) and, with o.Refs, the remote's refs and their data,
// then moves the local refs. The caller checks out the work tree after.
func (s *Syncer) Pull(ctx context.Context, o PullOptions) (PullResult, error) {
	var res PullResult
	var roots []objects.ID
	var err error
	for {
		roots, err = o.Roots(ctx)
		var nf *objects.NotFoundError
		if !errors.As(err, &nf) {
			break
		}
		ridx, lerr := s.LoadIndex(ctx)
		if lerr != nil {
			return res, lerr
		}
		if _, ok := ridx.Objects[nf.ID]; !ok {
			return res, err
		}
		st, ferr := s.FetchOne(ctx, ridx, []objects.ID{nf.ID})
		res.Stats = res.Stats.add(st)
		if ferr != nil {
			return res, ferr
		}
	}
	if err != nil {
		return res, err
	}
	var rrefs map[string]objects.ID
	if o.Refs != nil {
		if rrefs, err = s.RemoteRefs(ctx); err != nil {
			return res, err
		}
		for _, id := range rrefs {
			roots = append(roots, id)
		}
	}
	st, err := s.FetchInto(ctx, roots, o.Into)
	res.Stats = res.Stats.add(st)
	if err != nil || o.Refs == nil {
		return res, err
	}
	for _, n := range slices.Sorted(maps.Keys(rrefs)) {
		if id := rrefs[n]; !s.Local.Has(id) {
			if res.Unheld == nil {
				res.Unheld = map[string]objects.ID{}
			}
			res.Unheld[n] = id
			delete(rrefs, n)
		}
	}
	res.Remote = rrefs
	res.Diverged, err = s.ApplyRefs(ctx, o.Refs, rrefs)
	return res, err
}

func (a FetchStats) add(b FetchStats) FetchStats {
	a.Objects += b.Objects
	a.Bytes += b.Bytes
	a.Requests += b.Requests
	a.Missing += b.Missing
	return a
}
