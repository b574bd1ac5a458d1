// Package refs holds dv's mutable names and its view of git. A ref
// (datasets/NAME, models/NAME/production, ...) points at an object id and
// moves only by compare-and-swap. Git gives the pointer files of any
// revision, for diffs and for garbage collection. It imports objects and
// objects/workspace.
package refs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/dv-ml/dv/objects"
)

// Sentinel errors.
var (
	// ErrConflict means a compare-and-swap lost: the ref moved meanwhile.
	ErrConflict = errors.New("ref changed concurrently")
	// ErrNotFound means the ref does not exist.
	ErrNotFound = errors.New("ref not found")
	// ErrInvalidName is returned for names that are not safe paths.
	ErrInvalidName = errors.New("invalid ref name")
)

// ValidName checks a ref name: slash-separated components of letters,
// digits and "._-@", none empty, "." or "..", none starting with "." or
// ending in ".lock".
func ValidName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("%w %q", ErrInvalidName, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part[0] == '.' || strings.HasSuffix(part, ".lock") {
			return fmt.Errorf("%w %q", ErrInvalidName, name)
		}
		for _, r := range part {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)
			if !ok {
				return fmt.Errorf("%w %q: character %q", ErrInvalidName, name, r)
			}
		}
	}
	return nil
}

// Store keeps refs as files below a directory, one 64-hex-digit id each.
type Store struct{ dir string }

// Open returns the ref store in dir.
func Open(dir string) *Store { return &Store{dir: dir} }

func (s *Store) path(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

// Get returns the id name points at.
func (s *Store) Get(name string) (objects.ID, error) {
	if err := ValidName(name); err != nil {
		return objects.ID{}, err
	}
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return objects.ID{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return objects.ID{}, err
	}
	id, err := objects.ParseID(strings.TrimSpace(string(b)))
	if err != nil {
		return objects.ID{}, &objects.CorruptError{What: "ref", Name: name, Reason: err.Error()}
	}
	return id, nil
}

// CompareAndSwap moves name from old to new. A zero old means the ref must
// not exist; a zero new deletes it. It returns ErrConflict when the ref does
// not hold old, or another process is updating it.
func (s *Store) CompareAndSwap(ctx context.Context, name string, old, new objects.ID) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, fs.ErrExist) && staleLock(p+".lock") {
		// Left by a dv that was killed: its process is gone.
		_ = os.Remove(p + ".lock")
		lock, err = os.OpenFile(p+".lock", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w (being updated; if no dv is running, remove %s.lock)", name, ErrConflict, p)
	}
	if err != nil {
		return err
	}
	// The owner's pid and host let a later update tell a crashed owner.
	if _, err := fmt.Fprintf(lock, "%d %s\n", os.Getpid(), hostname()); err != nil {
		_ = lock.Close()
		_ = os.Remove(lock.Name())
		return err
	}
	if _, err := lock.Seek(0, 0); err != nil {
		_ = lock.Close()
		_ = os.Remove(lock.Name())
		return err
	}
	fail := func(err error) error {
		_ = lock.Close()
		_ = os.Remove(lock.Name())
		return err
	}
	cur, err := s.Get(name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fail(err)
	}
	if cur != old {
		return fail(fmt.Errorf("%s: %w: expected %s, found %s", name, ErrConflict, short(old), short(cur)))
	}
	if new.IsZero() {
		// Remove the ref while still holding the lock: released first, a
		// concurrent CAS could read the old value, win, and lose its update.
		err := os.Remove(p)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		_ = lock.Close()
		_ = os.Remove(lock.Name())
		return err
	}
	if err := lock.Truncate(0); err != nil {
		return fail(err)
	}
	if _, err := lock.WriteString(new.String() + "\n"); err != nil {
		return fail(err)
	}
	if err := lock.Sync(); err != nil {
		return fail(err)
	}
	if err := lock.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(lock.Name(), p); err != nil {
		_ = os.Remove(lock.Name())
		return err
	}
	return objects.SyncDir(filepath.Dir(p))
}

func short(id objects.ID) string {
	if id.IsZero() {
		return "nothing"
	}
	return id.Short()
}

// List returns every ref and its id, sorted by name.
func (s *Store) List() ([]string, map[string]objects.ID, error) {
	out := map[string]objects.ID{}
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".lock") {
			return nil
		}
		rel, _ := filepath.Rel(s.dir, p)
		name := filepath.ToSlash(rel)
		id, err := s.Get(name)
		if err != nil {
			return err
		}
		out[name] = id
		return nil
	})
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, out, err
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// staleLock reports whether a ref lock names a process on this host that
// no longer exists. A lock without an owner is never taken to be stale.
func staleLock(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var pid int
	var host string
	if n, _ := fmt.Sscanf(string(b), "%d %s", &pid, &host); n != 2 || pid <= 0 || host != hostname() {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
