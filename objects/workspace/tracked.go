package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// The tracked list (.dv/tracked, JSON: path -> id) remembers what the work
// tree held at the last full checkout or add, so that a checkout after git
// has removed a pointer (git checkout of an older commit) can remove that
// data too, as git removes files, when it is unchanged.
const trackedFile = "tracked"

func (r *Repo) loadTracked() map[string]objects.ID {
	m := map[string]objects.ID{}
	if b, err := os.ReadFile(filepath.Join(r.Dir, trackedFile)); err == nil {
		_ = json.Unmarshal(b, &m) // damaged: forget it; nothing is removed
	}
	return m
}

// updateTracked changes the tracked list with fn, under the list's lock:
// it reads the file, lets fn change the map, and writes it back when fn
// reports a change. Concurrent adds of different paths keep each other's
// entries.
func (r *Repo) updateTracked(fn func(m map[string]objects.ID) bool) error {
	p := filepath.Join(r.Dir, trackedFile)
	unlock, err := lockFile(p + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	m := r.loadTracked()
	if !fn(m) {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return objects.WriteFileAtomic(p, b, 0o644)
}

// noteTracked records that rel now holds id.
func (r *Repo) noteTracked(rel string, id objects.ID) error {
	return r.updateTracked(func(m map[string]objects.ID) bool {
		if m[rel] == id {
			return false
		}
		m[rel] = id
		return true
	})
}

// setTracked replaces the list by what a full checkout wrote.
func (r *Repo) setTracked(now map[string]objects.ID) error {
	return r.updateTracked(func(m map[string]objects.ID) bool {
		clear(m)
		maps.Copy(m, now)
		return true
	})
}

// lockFile takes the exclusive lock file p (gofrs/flock), waiting for it:
// it guards a read-modify-write of a small file in .dv, held for the time
// of one read and one write.
func lockFile(p string) (unlock func(), err error) {
	fl := flock.New(p)
	if err := fl.Lock(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return func() { _ = fl.Unlock() }, nil
}

// removeUntracked removes the data of paths that were tracked at the last
// checkout but have no pointer now, when the data is exactly what was
// checked out (and so is in the store). Changed data is left alone.
func (r *Repo) removeUntracked(ctx context.Context, targets map[string]objects.TreeEntry) ([]CheckoutResult, error) {
	var gone []string
	for rel := range r.loadTracked() {
		if _, ok := targets[rel]; !ok && r.exists(rel) {
			if _, err := os.Stat(r.Abs(rel) + pointer.Ext); os.IsNotExist(err) {
				gone = append(gone, rel)
			}
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	tracked := r.loadTracked()
	work, _, err := r.WorkSnapshot(ctx, gone)
	if err != nil {
		return nil, err
	}
	var out []CheckoutResult
	for _, rel := range gone {
		e, ok := work.Entries[rel]
		if !ok || e.ID != tracked[rel] || !r.Store.Has(e.ID) {
			continue // changed since: unsaved work is never deleted
		}
		if err := os.RemoveAll(r.Abs(rel)); err != nil {
			return out, err
		}
		r.Cache.Forget(rel)
		out = append(out, CheckoutResult{Path: rel, Removed: max(e.Files, 1)})
	}
	return out, nil
}
