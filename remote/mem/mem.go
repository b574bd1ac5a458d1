// Package mem is an in-memory remote for unit tests, with optional fault
// injection.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dv-ml/dv/remote"
)

// Store keeps blobs in a map. Fail, when set, is called before every
// operation with its name ("put", "get", ...) and the blob's name; a
// non-nil result is returned as the operation's error.
type Store struct {
	mu    sync.Mutex
	blobs map[string]blob
	gen   int
	Fail  func(op, name string) error
	calls map[string]int
}

type blob struct {
	data []byte
	etag string
	mod  time.Time
}

var _ remote.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{blobs: map[string]blob{}, calls: map[string]int{}} }

func (s *Store) String() string { return "mem://" }

// Close does nothing.
func (s *Store) Close() error { return nil }

// Calls returns how many times each operation ran.
func (s *Store) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

func (s *Store) begin(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.calls[op]++
	fail := s.Fail
	s.mu.Unlock()
	if fail != nil {
		return fail(op, name)
	}
	return nil
}

// Put stores a copy of r's bytes.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := s.begin(ctx, "put", name); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if size >= 0 && int64(len(b)) != size {
		return fmt.Errorf("put %s: got %d bytes, expected %d", name, len(b), size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(name, b)
	return nil
}

func (s *Store) setLocked(name string, b []byte) string {
	s.gen++
	etag := strconv.Itoa(s.gen)
	s.blobs[name] = blob{data: b, etag: etag, mod: time.Now()}
	return etag
}

// Get returns a range of the blob.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := s.begin(ctx, "get", name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	b, ok := s.blobs[name]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, remote.ErrNotFound)
	}
	d := b.data
	if off > int64(len(d)) {
		off = int64(len(d))
	}
	d = d[off:]
	if length >= 0 && length < int64(len(d)) {
		d = d[:length]
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

// Stat describes the blob.
func (s *Store) Stat(ctx context.Context, name string) (remote.Info, error) {
	if err := s.begin(ctx, "stat", name); err != nil {
		return remote.Info{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[name]
	if !ok {
		return remote.Info{}, fmt.Errorf("%s: %w", name, remote.ErrNotFound)
	}
	return remote.Info{Name: name, Size: int64(len(b.data)), ETag: b.etag, ModTime: b.mod}, nil
}

// List calls fn for the blobs below prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	if err := s.begin(ctx, "list", prefix); err != nil {
		return err
	}
	s.mu.Lock()
	var infos []remote.Info
	for n, b := range s.blobs {
		if strings.HasPrefix(n, prefix) {
			infos = append(infos, remote.Info{Name: n, Size: int64(len(b.data)), ETag: b.etag, ModTime: b.mod})
		}
	}
	s.mu.Unlock()
	for _, fi := range infos {
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the blob.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.begin(ctx, "delete", name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blobs, name)
	return nil
}

// PutIf is compare-and-swap on the blob's etag.
func (s *Store) PutIf(ctx context.Context, name string, data []byte, ifMatch string) (string, error) {
	if err := s.begin(ctx, "putif", name); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.blobs[name]
	if (ifMatch == "" && ok) || (ifMatch != "" && (!ok || cur.etag != ifMatch)) {
		return "", fmt.Errorf("%s: %w", name, remote.ErrPrecondition)
	}
	return s.setLocked(name, append([]byte(nil), data...)), nil
}
