package objects

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// GCStats says what GC removed, or would remove in a dry run.
type GCStats struct {
	Live           int   `json:"live_objects"`
	Removed        int   `json:"removed_objects"`
	RemovedBytes   int64 `json:"removed_bytes"`
	PacksDeleted   int   `json:"packs_deleted"`
	PacksRewritten int   `json:"packs_rewritten"`
	TempFiles      int   `json:"temp_files"`
}

// Reachable returns every object reachable from roots. A root the store
// lacks is skipped; an object that cannot be read is an error, since its
// children cannot be known.
func (s *Store) Reachable(ctx context.Context, roots []ID) (map[ID]bool, error) {
	live := map[ID]bool{}
	stack := append([]ID(nil), roots...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[id] {
			continue
		}
		l, ok := s.Lookup(id)
		if !ok {
			continue
		}
		live[id] = true
		if l.Type == TypeBlob {
			continue
		}
		kids, err := s.Children(ctx, id)
		if err != nil {
			return nil, err
		}
		stack = append(stack, kids...)
	}
	return live, nil
}

// GC deletes every object not in live. Packs holding only dead objects are
// deleted; packs holding both are rewritten with their live objects. The
// index is then rewritten as one file. Temporary files and packs no index
// names are removed. The caller must hold the store's lock exclusively.
func (s *Store) GC(ctx context.Context, live map[ID]bool, dryRun bool) (GCStats, error) {
	var st GCStats
	st.Live = len(live)
	byPack := map[ID][]Entry{}
	s.Each(func(l Loc) { byPack[l.Pack] = append(byPack[l.Pack], l.Entry) })

	var doomed []ID
	var keep []Entry
	for p, entries := range byPack {
		nlive := 0
		for _, e := range entries {
			if live[e.ID] {
				nlive++
			} else {
				st.Removed++
				st.RemovedBytes += int64(e.Length)
			}
		}
		switch {
		case nlive == len(entries):
			continue
		case nlive > 0:
			st.PacksRewritten++
			for _, e := range entries {
				if live[e.ID] {
					keep = append(keep, e)
				}
			}
		default:
			st.PacksDeleted++
		}
		doomed = append(doomed, p)
	}
	tmps, _ := os.ReadDir(filepath.Join(s.dir, TmpDir))
	st.TempFiles = len(tmps)
	if dryRun {
		return st, nil
	}

	// 1. Copy the live objects of mixed packs into new packs.
	w := s.NewWriter()
	for _, e := range keep {
		t, data, err := s.Load(ctx, e.ID)
		if err != nil {
			w.Abort()
			return st, fmt.Errorf("gc: keep %s: %w", e.ID.Short(), err)
		}
		// The object is in the index already: write it unconditionally.
		if err := w.putForce(ctx, e.ID, t, data); err != nil {
			w.Abort()
			return st, err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return st, err
	}
	// 2. Write one index for everything that stays, then drop the rest.
	doomedSet := map[ID]bool{}
	for _, p := range doomed {
		doomedSet[p] = true
	}
	if err := s.rewriteIndex(doomedSet, live); err != nil {
		return st, err
	}
	// 3. Delete the dead packs, unindexed packs and temporary files.
	if err := s.removeUnindexedPacks(); err != nil {
		return st, err
	}
	for _, t := range tmps {
		_ = os.Remove(filepath.Join(s.dir, TmpDir, t.Name()))
	}
	// Index files being written when a writer was killed.
	if ents, err := os.ReadDir(filepath.Join(s.dir, IndexDir)); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".tmp") {
				_ = os.Remove(filepath.Join(s.dir, IndexDir, e.Name()))
				st.TempFiles++
			}
		}
	}
	return st, nil
}

// rewriteIndex writes a single index file for every live object outside
// the doomed packs, then deletes the other index files.
func (s *Store) rewriteIndex(doomed map[ID]bool, live map[ID]bool) error {
	groups := map[ID][]Entry{}
	s.Each(func(l Loc) {
		if !doomed[l.Pack] && live[l.ID] {
			groups[l.Pack] = append(groups[l.Pack], l.Entry)
		}
	})
	var packs []PackIndex
	for p, es := range groups {
		packs = append(packs, PackIndex{Pack: p, Entries: es})
	}
	old, err := listDir(filepath.Join(s.dir, IndexDir))
	if err != nil {
		return err
	}
	b, name := EncodeIndex(packs)
	if err := WriteFileAtomic(filepath.Join(s.dir, IndexDir, name), b, 0o444); err != nil {
		return err
	}
	var errs []error
	for _, n := range old {
		if n != name {
			if err := os.Remove(filepath.Join(s.dir, IndexDir, n)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.mu.Lock()
	s.index = map[ID]Loc{}
	s.indexFiles = map[string]bool{name: true}
	s.damaged = nil
	s.addToIndex(packs)
	s.mu.Unlock()
	return errors.Join(errs...)
}

// removeUnindexedPacks deletes pack files the index does not name.
func (s *Store) removeUnindexedPacks() error {
	used := map[ID]bool{}
	s.Each(func(l Loc) { used[l.Pack] = true })
	names, err := listDir(filepath.Join(s.dir, PacksDir))
	if err != nil {
		return err
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for _, n := range names {
		id, _ := ParseID(n)
		if used[id] {
			continue
		}
		if f, ok := s.files[id]; ok {
			_ = f.Close()
			delete(s.files, id)
		}
		if err := os.Remove(s.packPath(id)); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
	}
	return nil
}

// Complete checks that every object below root is present and sound. A
// root the store lacks is not an error (its data was never fetched).
func (s *Store) Complete(ctx context.Context, root ID) error {
	return s.walkBelow(ctx, root, func(id ID) error {
		return corrupt("object", id.String(), "missing from the store (needed by %s)", root.Short())
	})
}

// Missing counts the objects below root that the store lacks (a partial
// fetch leaves some); it returns an error only for damaged objects. A root
// the store lacks counts as one.
func (s *Store) Missing(ctx context.Context, root ID) (int, error) {
	if !s.Has(root) {
		return 1, nil
	}
	n := 0
	err := s.walkBelow(ctx, root, func(ID) error { n++; return nil })
	return n, err
}

// walkBelow visits every object below a present root, loading trees,
// lists and records; absent calls onMissing.
func (s *Store) walkBelow(ctx context.Context, root ID, onMissing func(ID) error) error {
	if !s.Has(root) {
		return nil
	}
	seen := map[ID]bool{}
	stack := []ID{root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		l, ok := s.Lookup(id)
		if !ok {
			if err := onMissing(id); err != nil {
				return err
			}
			continue
		}
		if l.Type == TypeBlob {
			continue
		}
		kids, err := s.Children(ctx, id)
		if err != nil {
			return err
		}
		stack = append(stack, kids...)
	}
	return nil
}
