package workspace

import (
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

// CleanTemp removes temporary files that a killed dv left in the work tree
// and in .dv (not in tracked data, not in .git), when older than age so
// that a dv still writing one keeps it. It returns how many it removed.
func (r *Repo) CleanTemp(age time.Duration) (int, error) {
	n := 0
	cutoff := r.Now().Add(-age)
	tracked := map[string]bool{}
	if ptrs, err := r.Pointers(); err == nil {
		for _, p := range ptrs {
			tracked[r.Abs(p)] = true
		}
	}
	err := filepath.WalkDir(r.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable corners are not ours to clean
		}
		if d.IsDir() {
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
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			if os.Remove(p) == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}
