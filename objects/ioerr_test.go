package objects

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestLoadIOErrorIsNotDamage: a pack that cannot be read for a reason
// that says nothing of its bytes (EACCES, EMFILE: injected, since tests may
// run as root) is an ordinary error naming the file, never ErrCorrupt; a
// pack cut short is damage, wrapping io.ErrUnexpectedEOF.
func TestLoadIOErrorIsNotDamage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := tstStore(t)
	ids := tstPut(t, s, TypeBlob, tstRand(1, 1000), tstRand(2, 1000))
	l, _ := s.Lookup(ids[1])
	path := s.PackPath(l.Pack)

	for _, errno := range []syscall.Errno{syscall.EACCES, syscall.EMFILE} {
		s.readAt = func(ID, []byte, int64) error {
			return &fs.PathError{Op: "open", Path: path, Err: errno}
		}
		for name, load := range map[string]func() error{
			"Load":       func() error { _, _, err := s.Load(ctx, ids[0]); return err },
			"LoadStored": func() error { _, _, err := s.LoadStored(ctx, ids[0]); return err },
		} {
			err := load()
			if err == nil || errors.Is(err, ErrCorrupt) {
				t.Errorf("%s with %v: got %v, want a plain error", name, errno, err)
				continue
			}
			if !errors.Is(err, errno) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s with %v: %v does not wrap the cause or name %s", name, errno, err, path)
			}
		}
	}
	s.readAt = nil

	// Cut the pack short inside the second object: damage.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(l.Offset)+int64(l.Length)/2); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Load(ctx, ids[1])
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated pack: got %v, want a CorruptError wrapping io.ErrUnexpectedEOF", err)
	}
	if !strings.Contains(err.Error(), ids[1].String()) {
		t.Errorf("truncated pack: %v does not name the object", err)
	}
}

// TestLoadFromDirectory: a directory where a pack file should be (reads
// fail with EISDIR) is an error naming the path, not damage.
func TestLoadFromDirectory(t *testing.T) {
	t.Parallel()
	s, _ := tstStore(t)
	ids := tstPut(t, s, TypeBlob, tstRand(3, 1000))
	l, _ := s.Lookup(ids[0])
	path := s.PackPath(l.Pack)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil { // reads fail with EISDIR
		t.Fatal(err)
	}
	_, _, err := s.Load(context.Background(), ids[0])
	if err == nil || errors.Is(err, ErrCorrupt) || !errors.Is(err, syscall.EISDIR) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load from a directory: got %v, want a plain error naming %s", err, path)
	}
}
