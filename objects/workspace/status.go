package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// States of a tracked path.
const (
	StateClean    = "clean"
	StateModified = "modified"
	StateDeleted  = "deleted"
)

// PathStatus is the state of one tracked path.
type PathStatus struct {
	Path    string `json:"path"`
	State   string `json:"state"`
	InCache bool   `json:"in_cache"` // the store holds the pointer's data
}

// Snapshot is a set of tracked paths and their entries, with the trees
// that were computed from the work tree (and so are not in the store).
type Snapshot struct {
	Entries map[string]objects.TreeEntry
	trees   map[objects.ID]*objects.Tree
}

// PointerSnapshot returns the snapshot the pointers describe.
func PointerSnapshot(ptrs map[string]*pointer.Pointer) *Snapshot {
	s := &Snapshot{Entries: map[string]objects.TreeEntry{}}
	for rel, p := range ptrs {
		s.Entries[rel] = p.Entry(baseName(rel))
	}
	return s
}

// ReadPointers reads the pointer files of the given tracked paths (all of
// them when paths is empty).
func (r *Repo) ReadPointers(ctx context.Context, paths []string) (map[string]*pointer.Pointer, error) {
	if len(paths) == 0 {
		var err error
		if paths, err = r.Pointers(ctx); err != nil {
			return nil, err
		}
	}
	out := map[string]*pointer.Pointer{}
	for _, rel := range paths {
		p, err := pointer.Read(r.Abs(rel) + pointer.Ext)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: not tracked (no %s%s)", rel, rel, pointer.Ext)
			}
			return nil, err
		}
		out[rel] = p
	}
	return out, nil
}

// WorkSnapshot scans the work-tree paths, computing ids without storing
// anything (the stat cache spares unchanged files). Missing paths are left
// out.
func (r *Repo) WorkSnapshot(ctx context.Context, paths []string) (*Snapshot, int64, error) {
	s := newScanner(r, objects.HashOnly{})
	snap := &Snapshot{Entries: map[string]objects.TreeEntry{}}
	for _, rel := range paths {
		if _, done := snap.Entries[rel]; done {
			continue
		}
		e, err := s.scan(ctx, rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		snap.Entries[rel] = e
	}
	snap.trees = s.trees
	s.settle(ctx)
	if err := r.Cache.Save(); err != nil {
		return nil, 0, err
	}
	return snap, s.bytesRead.Load(), nil
}

// Status compares tracked paths with their pointer files.
func (r *Repo) Status(ctx context.Context, paths []string) ([]PathStatus, int64, error) {
	ptrs, err := r.ReadPointers(ctx, paths)
	if err != nil {
		return nil, 0, err
	}
	rels := slices.Sorted(maps.Keys(ptrs))
	work, read, err := r.WorkSnapshot(ctx, rels)
	if err != nil {
		return nil, 0, err
	}
	out := make([]PathStatus, 0, len(rels))
	for _, rel := range rels {
		p := ptrs[rel]
		st := PathStatus{Path: rel, State: StateClean, InCache: r.Store.Has(p.OID)}
		e, ok := work.Entries[rel]
		switch {
		case !ok:
			st.State = StateDeleted
		case !sameEntry(e, p.Entry(e.Name)):
			st.State = StateModified
		}
		out = append(out, st)
	}
	return out, read, nil
}

func sameEntry(a, b objects.TreeEntry) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Target == b.Target &&
		(a.Type != objects.EntryFile || a.Exec == b.Exec)
}

func baseName(rel string) string {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[i+1:]
		}
	}
	return rel
}

// exists reports whether the work-tree path exists (without following a
// final symlink).
func (r *Repo) exists(rel string) bool {
	_, err := os.Lstat(r.Abs(rel))
	return err == nil
}
