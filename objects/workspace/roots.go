package workspace

import (
	"context"
	"path/filepath"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// RefsDir is where the project's refs live, below .dv.
const RefsDir = "refs"

// Refs returns the project's refs (.dv/refs).
func (r *Repo) Refs() *refs.Store { return refs.Open(filepath.Join(r.Dir, RefsDir)) }

// Roots returns the one root set of gc, push and fetch: the data and
// records of the work tree's pointer files, the objects dv's refs name, and
// extra (the pointers of all git history, for --all-commits, from
// gitrepo.Git.HistoryRoots).
func (r *Repo) Roots(ctx context.Context, extra ...objects.ID) ([]objects.ID, error) {
	ptrs, err := r.ReadPointers(ctx, nil)
	if err != nil {
		return nil, err
	}
	var roots []objects.ID
	for _, p := range ptrs {
		roots = append(roots, p.OID)
		if !p.Record.IsZero() {
			roots = append(roots, p.Record)
		}
	}
	_, ids, err := r.Refs().List()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		roots = append(roots, id)
	}
	return append(roots, extra...), nil
}
