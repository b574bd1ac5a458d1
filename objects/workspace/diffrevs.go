package workspace

import (
	"context"
	"errors"

	"github.com/dv-ml/dv/objects/pointer"
)

// PointersAt reads the pointer files of the project at a revision (a
// commit of its git repository). refs/git's Git.Pointers is one; the work
// tree package knows nothing of git.
type PointersAt func(ctx context.Context, rev string) (map[string]*pointer.Pointer, error)

// DiffOptions says what DiffRevs compares.
type DiffOptions struct {
	// Revs: none compares the pointer files with the work tree; one, that
	// revision with the work tree; two, the first revision with the second.
	Revs []string
	// Paths (from the root) keeps the tracked paths that are, contain or
	// lie inside one of them, and the changes at or below one of them.
	Paths []string
	// At reads pointers at a revision; needed when Revs is not empty.
	At PointersAt
}

// DiffRevs is dv diff: it turns o.Revs into two snapshots (pointers at a
// revision, the pointer files, or the work tree) and lists the changes
// between them.
func (r *Repo) DiffRevs(ctx context.Context, o DiffOptions) ([]Change, error) {
	a, b, err := r.diffSides(ctx, o)
	if err != nil {
		return nil, err
	}
	limitSnapshot(a, o.Paths)
	limitSnapshot(b, o.Paths)
	changes, err := r.Diff(ctx, a, b)
	if err != nil {
		return nil, err
	}
	return keepUnder(changes, o.Paths), nil
}

// diffSides builds the two snapshots: the old side from the pointer files
// or the first revision, the new side from the second revision or else
// the work tree (over every tracked path and every path of the old side).
func (r *Repo) diffSides(ctx context.Context, o DiffOptions) (a, b *Snapshot, err error) {
	if len(o.Revs) > 2 {
		return nil, nil, errors.New("diff compares at most two revisions")
	}
	if len(o.Revs) == 0 {
		ptrs, err := r.ReadPointers(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		a = PointerSnapshot(ptrs)
	} else {
		if o.At == nil {
			return nil, nil, errors.New("diff of revisions: no reader of pointers at a revision")
		}
		for i, rev := range o.Revs {
			ptrs, err := o.At(ctx, rev)
			if err != nil {
				return nil, nil, err
			}
			if i == 0 {
				a = PointerSnapshot(ptrs)
			} else {
				b = PointerSnapshot(ptrs)
			}
		}
	}
	if b == nil {
		paths, err := r.Pointers(ctx)
		if err != nil {
			return nil, nil, err
		}
		for p := range a.Entries {
			paths = append(paths, p)
		}
		if b, _, err = r.WorkSnapshot(ctx, paths); err != nil {
			return nil, nil, err
		}
	}
	return a, b, nil
}

// limitSnapshot keeps the tracked paths that are, contain, or lie inside
// a filter.
func limitSnapshot(s *Snapshot, filter []string) {
	if len(filter) == 0 {
		return
	}
	for p := range s.Entries {
		keep := false
		for _, f := range filter {
			if Under(p, f) || Under(f, p) {
				keep = true
			}
		}
		if !keep {
			delete(s.Entries, p)
		}
	}
}

// keepUnder keeps the changes whose path (or old path) is at or below a
// filter.
func keepUnder(cs []Change, filter []string) []Change {
	if len(filter) == 0 {
		return cs
	}
	var out []Change
	for _, c := range cs {
		for _, f := range filter {
			if Under(c.Path, f) || (c.From != "" && Under(c.From, f)) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}
