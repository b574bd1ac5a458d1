package train

import (
	"context"
	"fmt"
	"slices"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
)

// CheckInputs pins the dependencies: each work-tree path must be tracked
// (have a pointer, or lie inside tracked data), its data must match what
// the pointer says, and the store must hold that data. It returns one IO
// per dependency, with the version record of its pointer. An error names
// the path and what to do.
func CheckInputs(ctx context.Context, r *workspace.Repo, deps []string) ([]lineage.IO, error) {
	if len(deps) == 0 {
		return nil, nil
	}
	ptrs, err := r.ReadPointers(ctx, nil)
	if err != nil {
		return nil, err
	}
	work, _, err := r.WorkSnapshot(ctx, deps)
	if err != nil {
		return nil, err
	}
	out := make([]lineage.IO, 0, len(deps))
	for _, rel := range deps {
		if !covered(ptrs, rel) {
			return nil, fmt.Errorf("%s: not tracked by dv; run dv add %s first", rel, rel)
		}
		top, want, err := r.Locate(ctx, ptrs, rel)
		if err != nil {
			return nil, err
		}
		got, ok := work.Entries[rel]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: deleted since dv add; run dv checkout %s first", rel, top)
		case got.Type != want.Type || got.ID != want.ID || got.Type == objects.EntryFile && got.Exec != want.Exec:
			return nil, fmt.Errorf("%s: modified since dv add; run dv add %s first", rel, top)
		}
		if !r.Store.Has(want.ID) {
			return nil, fmt.Errorf("%s: its data is not in the local store; run dv pull %s first", rel, top)
		}
		out = append(out, lineage.IO{Path: rel, Data: want.ID, Record: ptrs[top].Record})
	}
	return out, nil
}

// CheckOutputs refuses output paths that are also inputs, that repeat, or
// that lie inside (or contain) other tracked data, before anything runs.
func CheckOutputs(ctx context.Context, r *workspace.Repo, deps, outs []string) error {
	for i, o := range outs {
		if slices.Contains(outs[:i], o) {
			return fmt.Errorf("%s: named twice as an output", o)
		}
		for _, d := range deps {
			if workspace.Under(d, o) || workspace.Under(o, d) {
				return fmt.Errorf("%s: is both an input (%s) and an output; a run may not change its own inputs", o, d)
			}
		}
		inside, contains, err := r.Nesting(ctx, o)
		if err != nil {
			return err
		}
		if inside != "" {
			return fmt.Errorf("%s: inside %s, which is tracked as a whole; name %s as the output", o, inside, inside)
		}
		if contains != "" {
			return fmt.Errorf("%s: contains %s, which is tracked on its own", o, contains)
		}
	}
	return nil
}

// covered reports whether rel is a tracked path or lies inside one.
func covered(ptrs map[string]*pointer.Pointer, rel string) bool {
	for p := range ptrs {
		if workspace.Under(rel, p) {
			return true
		}
	}
	return false
}
