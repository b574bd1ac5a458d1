// Package local is the folder remote: blobs are files below a directory,
// written through a temporary file and a rename.
package local

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/remote"
)

// Store is a remote in a local folder (or a mounted network share).
type Store struct{ root string }

var _ remote.Store = (*Store)(nil)

// New returns the folder remote at root (a path or file:// URL). The
// folder is created when create is true; otherwise it must exist.
func New(root string, create bool) (*Store, error) {
	root = strings.TrimPrefix(root, "file://")
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if create {
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("remote %s: %w", abs, err)
		}
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", abs, remote.ErrNoBucket)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("remote %s: not a directory", abs)
	}
	return &Store{root: abs}, nil
}

func (s *Store) String() string { return s.root }

// Close does nothing.
func (s *Store) Close() error { return nil }

func (s *Store) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") || strings.Contains(name, "\\") {
		return "", fmt.Errorf("invalid remote name %q", name)
	}
	return filepath.Join(s.root, filepath.FromSlash(name)), nil
}

// Put writes the blob through a temporary file in the same folder.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	_, err := s.write(ctx, name, r, size, nil)
	return err
}

// write stores r under name; check, when set, runs with the target locked
// and may refuse the write.
func (s *Store) write(ctx context.Context, name string, r io.Reader, size int64, check func() error) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := s.path(name)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	h := blake3.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("put %s: got %d bytes, expected %d", name, n, size)
	}
	if err == nil {
		// CreateTemp makes the file 0600: readable only by the pusher,
		// which would shut the rest of a team out of a shared folder.
		// Blobs are only ever replaced by a rename, so read-only it is.
		err = f.Chmod(0o444)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check()
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	if err := objects.SyncDir(dir); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get opens the blob at off for length bytes (length < 0: to the end).
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, remote.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	if length < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, nil
}

// Stat returns the blob's size and an ETag (a hash of its content).
func (s *Store) Stat(ctx context.Context, name string) (remote.Info, error) {
	p, err := s.path(name)
	if err != nil {
		return remote.Info{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return remote.Info{}, fmt.Errorf("%s: %w", name, remote.ErrNotFound)
	}
	if err != nil {
		return remote.Info{}, err
	}
	info := remote.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}
	if strings.HasPrefix(name, "refs/") {
		b, err := os.ReadFile(p)
		if err != nil {
			return info, err
		}
		info.ETag = etagOf(b)
	}
	return info, nil
}

func etagOf(b []byte) string {
	sum := blake3.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// List walks the folder below prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	dir := filepath.Join(s.root, filepath.FromSlash(prefix))
	if !strings.HasSuffix(prefix, "/") {
		dir = filepath.Dir(dir)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") || strings.HasSuffix(d.Name(), ".lock") {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the directory was read (a lock released, a gc)
		}
		if err != nil {
			return err
		}
		return fn(remote.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()})
	})
	return err
}

// Delete removes the blob.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// PutIf is compare-and-swap through an exclusive lock file beside the
// blob. A lock older than a minute is taken to be left by a killed process.
func (s *Store) PutIf(ctx context.Context, name string, data []byte, ifMatch string) (string, error) {
	p, err := s.path(name)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, p+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	return s.write(ctx, name, strings.NewReader(string(data)), int64(len(data)), func() error {
		cur, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if ifMatch != "" {
				return fmt.Errorf("%s: %w (it is gone)", name, remote.ErrPrecondition)
			}
			return nil
		case err != nil:
			return err
		case ifMatch == "" || etagOf(cur) != ifMatch:
			return fmt.Errorf("%s: %w", name, remote.ErrPrecondition)
		}
		return nil
	})
}

func lockFile(ctx context.Context, p string) (func(), error) {
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%d %s\n", os.Getpid(), host)
	for {
		err := createWith(p, owner)
		if err == nil {
			return func() { _ = os.Remove(p) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if staleLock(p, host) {
			_ = os.Remove(p)
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// createWith creates p holding content, atomically: a temporary file is
// linked to p, which fails if p exists. A lock therefore always names its
// owner, even when its writer was killed.
func createWith(p, content string) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-lock-*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.Name(), p)
	}
	_ = os.Remove(f.Name())
	return err
}

// staleLock reports whether the lock at p was left by a dv that is gone:
// its process no longer runs on this host, or (another host's, which
// cannot be checked) it is older than a minute.
func staleLock(p, host string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	b, _ := os.ReadFile(p)
	var pid int
	var h string
	if n, _ := fmt.Sscanf(string(b), "%d %s", &pid, &h); n == 2 && h == host && pid > 0 {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	return time.Since(fi.ModTime()) > time.Minute
}
