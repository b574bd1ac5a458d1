package workspace

import (
	"context"
	"fmt"
	"strings"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// Locate finds the tracked path that is rel or contains it, and the entry
// at rel in that tracked data, reading trees from the store. A tree the
// store lacks gives an *objects.NotFoundError naming it, so a caller can
// fetch it and try again.
func (r *Repo) Locate(ctx context.Context, ptrs map[string]*pointer.Pointer, rel string) (string, objects.TreeEntry, error) {
	var top string
	for p := range ptrs {
		if Under(rel, p) && len(p) > len(top) {
			top = p
		}
	}
	if top == "" {
		return "", objects.TreeEntry{}, fmt.Errorf("%s: not tracked (no pointer file for it or a parent directory)", rel)
	}
	e := ptrs[top].Entry(baseName(top))
	rest := strings.TrimPrefix(strings.TrimPrefix(rel, top), "/")
	if rest == "" {
		return top, e, nil
	}
	for _, name := range strings.Split(rest, "/") {
		if e.Type != objects.EntryDir {
			return "", objects.TreeEntry{}, fmt.Errorf("%s: not found in %s", rel, top)
		}
		t, err := r.LoadTree(ctx, e.ID)
		if err != nil {
			return "", objects.TreeEntry{}, fmt.Errorf("%s: %w", top, err)
		}
		found := false
		for _, c := range t.Entries {
			if c.Name == name {
				e, found = c, true
				break
			}
		}
		if !found {
			return "", objects.TreeEntry{}, fmt.Errorf("%s: not found in %s", rel, top)
		}
	}
	return top, e, nil
}

// Targets returns, for each requested path (all tracked paths when none),
// the entry it should have: a tracked path's pointer, or the entry inside
// tracked data for a path below one.
func (r *Repo) Targets(ctx context.Context, paths []string) (map[string]objects.TreeEntry, error) {
	all, err := r.ReadPointers(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]objects.TreeEntry{}
	if len(paths) == 0 {
		for rel, p := range all {
			out[rel] = p.Entry(baseName(rel))
		}
		return out, nil
	}
	for _, rel := range paths {
		_, e, err := r.Locate(ctx, all, rel)
		if err != nil {
			return nil, err
		}
		e.Name = baseName(rel)
		out[rel] = e
	}
	return out, nil
}

// Under reports whether the slash-separated work-tree path p is dir or
// lies below it.
func Under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
