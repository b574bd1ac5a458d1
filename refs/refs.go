// Package refs holds dv's mutable names. A ref (datasets/NAME,
// aliases/MODEL/production, ...) points at an object id and moves only by
// compare-and-swap. Reading git is refs/git's (package gitrepo).
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
	// ErrNameConflict means a name is a prefix directory of an existing
	// ref, or has one as a prefix (git's rule): see NameConflictError.
	ErrNameConflict = errors.New("ref name conflicts with an existing ref")
)

// NameConflictError is a ref name refused because Existing is a ref whose
// name is a prefix of it, or which has it as a prefix.
type NameConflictError struct {
	Name, Existing string
}

func (e *NameConflictError) Error() string {
	how := "is a prefix of"
	if strings.HasPrefix(e.Existing, e.Name+"/") {
		how = "is below"
	}
	return fmt.Sprintf("ref %s: %v: ref %s %s it (no ref name may be a directory of another); choose another name",
		e.Name, ErrNameConflict, e.Existing, how)
}

// Is makes a NameConflictError match ErrNameConflict.
func (e *NameConflictError) Is(target error) bool { return target == ErrNameConflict }

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
		return objects.ID{}, &objects.CorruptError{What: "ref", Name: name, Reason: err.Error(), Err: err}
	}
	return id, nil
}

// CheckName checks that name is valid and that no ref is a prefix of it
// and that it is a prefix of no ref (git's rule: refs are files, so
// models/a and models/a/b cannot both exist). Commands call it before they
// store anything; CompareAndSwap calls it again.
func (s *Store) CheckName(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		fi, err := os.Lstat(s.path(prefix))
		if err == nil && !fi.IsDir() {
			return &NameConflictError{Name: name, Existing: prefix}
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing below either
		}
	}
	fi, err := os.Lstat(s.path(name))
	if err != nil || !fi.IsDir() {
		return nil
	}
	below := ""
	_ = filepath.WalkDir(s.path(name), func(p string, d fs.DirEntry, err error) error {
		if err != nil || below != "" {
			return fs.SkipAll
		}
		if !d.IsDir() && !strings.HasSuffix(p, ".lock") && !strings.HasPrefix(d.Name(), ".") {
			rel, _ := filepath.Rel(s.dir, p)
			below = filepath.ToSlash(rel)
			return fs.SkipAll
		}
		return nil
	})
	if below != "" {
		return &NameConflictError{Name: name, Existing: below}
	}
	// Only empty directories left by deleted refs: they go.
	_ = removeEmptyDirs(s.path(name))
	return nil
}

// removeEmptyDirs removes dir and the empty directories below it.
func removeEmptyDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			_ = removeEmptyDirs(filepath.Join(dir, e.Name()))
		}
	}
	return os.Remove(dir)
}

// CompareAndSwap moves name from old to new. A zero old means the ref must
// not exist; a zero new deletes it. It returns ErrConflict when the ref does
// not hold old, or another process is updating it, and a
// *NameConflictError (before anything is written) when another ref's name
// is a prefix of name or the other way round.
func (s *Store) CompareAndSwap(ctx context.Context, name string, old, new objects.ID) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if !new.IsZero() {
		if err := s.CheckName(name); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	lockPath := p + ".lock"
	err := takeLock(lockPath)
	if errors.Is(err, fs.ErrExist) && staleLock(lockPath) {
		// Left by a dv that was killed: its process is gone.
		_ = os.Remove(lockPath)
		err = takeLock(lockPath)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w (being updated; if no dv is running, remove %s.lock)", name, ErrConflict, p)
	}
	if err != nil {
		return err
	}
	release := func() { _ = os.Remove(lockPath) }
	fail := func(err error) error {
		release()
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
		release()
		return err
	}
	// The new value goes in through a temporary file of its own, not the
	// lock file: killed at any point, the lock still names its owner, so
	// the next update can tell it is stale (a lock holding the new value
	// could not be told from a live one, and blocked every later update).
	if err := objects.WriteFileAtomic(p, []byte(new.String()+"\n"), 0o644); err != nil {
		return fail(err)
	}
	release() // the update is done; a lock left here names a finished owner
	return nil
}

// takeLock creates the lock file path holding this process's pid and host,
// so that a later update can tell a crashed owner. The content goes into
// a temporary file first, which is then hard-linked to path (failing with
// fs.ErrExist if path exists): the lock is never seen empty, as one created
// with O_EXCL is until its owner writes it (killed then, it blocked every
// later update). Where hard links are not supported, it falls back to that.
func takeLock(path string) error {
	dir, name := filepath.Split(path)
	owner := fmt.Sprintf("%d %s\n", os.Getpid(), hostname())
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o644)
	if err == nil {
		_, err = tmp.WriteString(owner)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(owner)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
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
		// Locks and the temporary files of updates in flight are not refs
		// (no ref name has a component starting with a dot).
		if d.IsDir() || strings.HasSuffix(p, ".lock") || strings.HasPrefix(d.Name(), ".") {
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
