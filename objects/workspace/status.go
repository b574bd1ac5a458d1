package workspace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

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
	inStore, err := r.inStore(ptrs)
	if err != nil {
		return nil, 0, err
	}
	out := make([]PathStatus, 0, len(rels))
	for _, rel := range rels {
		p := ptrs[rel]
		st := PathStatus{Path: rel, State: StateClean, InCache: inStore[p.OID]}
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

// inStore says which of the pointers' ids the store holds. The stat cache
// answers while the index files are those it saw holding them (opening
// the store reads the whole index); otherwise the store is opened and
// what it holds remembered, if its index did not change meanwhile.
func (r *Repo) inStore(ptrs map[string]*pointer.Pointer) (map[objects.ID]bool, error) {
	out := map[objects.ID]bool{}
	state, err := indexState(filepath.Join(r.Dir, objects.IndexDir))
	if err == nil {
		all := true
		for _, p := range ptrs {
			out[p.OID] = r.Cache.lookupStored(p.OID, state)
			all = all && out[p.OID]
		}
		if all {
			return out, nil
		}
	}
	st, err := r.OpenStore()
	if err != nil {
		return nil, err
	}
	var held []objects.ID
	for _, p := range ptrs {
		if out[p.OID] = st.Has(p.OID); out[p.OID] {
			held = append(held, p.OID)
		}
	}
	if after, err2 := indexState(filepath.Join(r.Dir, objects.IndexDir)); err == nil && err2 == nil && after == state {
		r.Cache.recordStored(held, state)
		return out, r.Cache.Save()
	}
	return out, nil
}

// indexState is the digest of the names and stats of the store's index
// files (what opening the store reads): index files are named by their
// content, so while it is the same the store holds the same objects.
func indexState(dir string) ([32]byte, error) {
	files, err := indexFiles(dir)
	if err != nil {
		return [32]byte{}, err
	}
	return files.state(), nil
}

// indexListing is the store's index files, by name, with their stats.
type indexListing map[string]Stat

// indexFiles lists the index files in dir (what Open reads).
func indexFiles(dir string) (indexListing, error) {
	f, fd, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := indexListing{}
	for _, name := range names {
		if len(name) != 2*objects.IDSize {
			continue // a temporary file: not read by Open
		}
		var sys unix.Stat_t
		if err := unix.Fstatat(fd, name, &sys, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, err
		}
		out[name] = statOfSys(&sys)
	}
	return out, nil
}

// state is the listing's digest (indexState).
func (l indexListing) state() [32]byte {
	b := []byte("dv index state 1\x00")
	for _, name := range slices.Sorted(maps.Keys(l)) {
		st := l[name]
		b = append(b, name...)
		for _, v := range [...]uint64{uint64(st.Size), uint64(st.Mtime), uint64(st.Ctime), st.Ino, st.Mode} {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
	}
	return blake3.Sum256(b)
}

// holds reports whether l still has every index file of old, unchanged:
// then it holds every object old held.
func (l indexListing) holds(old indexListing) bool {
	for name, st := range old {
		if l[name] != st {
			return false
		}
	}
	return true
}

// noteStored records in the stat cache that the store holds id, now that
// a writer indexed it: under the index files' state now, with what the
// cache knew under the state before the write (when every index file of
// before is still there, all it held is still held).
func (r *Repo) noteStored(before indexListing, id objects.ID) {
	dir := filepath.Join(r.Dir, objects.IndexDir)
	now, err := indexFiles(dir)
	if err != nil {
		return
	}
	ids := []objects.ID{id}
	if before != nil && now.holds(before) {
		ids = append(ids, r.Cache.storedUnder(before.state())...)
	}
	r.Cache.recordStored(ids, now.state())
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
