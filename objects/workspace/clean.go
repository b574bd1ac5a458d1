package workspace

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// atomicTemp matches the temporary files objects.WriteFileAtomic creates
// (".NAME.<digits>.tmp") beside pointer files, .gitignore files and the
// stat cache.
var atomicTemp = regexp.MustCompile(`^\..+\.[0-9]+\.tmp$`)

// TempAge is how old a temporary file dv left in the work tree must be
// before dv removes it: a younger one may belong to a dv still writing it
// (a concurrent checkout, add or gc).
const TempAge = 10 * time.Minute

// removeIfStale removes the temporary file p when it was last modified
// before cutoff, and reports whether it did. It is the one place where dv
// deletes its temporaries from the work tree: CleanTemp (dv gc) and the
// scanner behind add, status, diff and checkout both call it.
func removeIfStale(p string, d fs.DirEntry, cutoff time.Time) bool {
	fi, err := d.Info()
	if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(cutoff) {
		return false
	}
	return os.Remove(p) == nil
}

// CleanTemp removes temporary files that a killed dv left in the work tree
// and in .dv (not in tracked data, not in .git), when older than age so
// that a dv still writing one keeps it. It returns how many it removed.
// It stops when ctx ends.
func (r *Repo) CleanTemp(ctx context.Context, age time.Duration) (int, error) {
	n := 0
	cutoff := r.Now().Add(-age)
	tracked := map[string]bool{}
	ptrs, err := r.Pointers(ctx)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if err == nil {
		for _, p := range ptrs {
			tracked[r.Abs(p)] = true
		}
	}
	err = filepath.WalkDir(r.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable corners are not ours to clean
		}
		if d.IsDir() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.Name() == ".git" || tracked[p] || (p != r.Root && d.Name() == DirName) && p != r.Dir {
				return filepath.SkipDir
			}
			if p != r.Dir && filepath.Dir(p) == r.Dir {
				return filepath.SkipDir // the store's own folders: gc handles them
			}
			return nil
		}
		if !atomicTemp.MatchString(d.Name()) {
			return nil
		}
		if removeIfStale(p, d, cutoff) {
			n++
		}
		return nil
	})
	return n, err
}
