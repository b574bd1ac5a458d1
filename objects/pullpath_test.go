package objects

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReadFileAt checks that the parallel parts of ReadFileAt make exactly
// the file ReadFile makes, for any number of jobs, and that a damaged
// chunk fails it.
func TestReadFileAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	data := tstRand(70, 3*ParallelReadMin+12345)
	w := s.NewWriter()
	id, _, err := PutFile(ctx, w, bytes.NewReader(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, jobs := range []int{1, 2, 3, 7, 16} {
		f, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.ReadFileAt(ctx, id, f, jobs)
		if err != nil || n != int64(len(data)) {
			t.Fatalf("jobs %d: ReadFileAt wrote %d bytes: %v", jobs, n, err)
		}
		got, err := os.ReadFile(f.Name())
		_ = f.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("jobs %d: the file differs from what was put (%v)", jobs, err)
		}
	}
	// A flipped byte in one chunk of the last part.
	chunks, _, err := s.FileChunks(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Lookup(chunks[len(chunks)-2].ID)
	tstFlip(t, s.packPath(l.Pack), int64(l.Offset)+10)
	s2 := tstReopen(t, dir)
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := s2.ReadFileAt(ctx, id, f, 4); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadFileAt of a damaged file: %v, want ErrCorrupt", err)
	}
}

// TestTrustWritten checks that only a writer marked TrustWritten spares
// its objects a second hash, only in the pack it wrote them to, and only
// on the first read back: an object written by any other writer, or read
// a second time, and damaged on disk is refused.
func TestTrustWritten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, trust := range []bool{false, true} {
		s, _ := tstStore(t)
		w := s.NewWriter()
		if trust {
			w.TrustWritten()
		}
		data := tstRand(71, 5000)
		id, err := w.Put(ctx, TypeBlob, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		l, _ := s.Lookup(id)
		if s.isTrusted(id, ID{1}) {
			t.Fatal("an object is trusted in a pack it was not written to")
		}
		tstFlip(t, s.packPath(l.Pack), int64(l.Offset)+10)
		// The first read back is spared the hash only when trusted; the
		// second is verified either way.
		_, err = s.ReadFile(ctx, id, io.Discard)
		if trust && err != nil {
			t.Fatalf("trusted object read back: %v", err)
		}
		if !trust && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("untrusted damaged object: %v, want ErrCorrupt", err)
		}
		if _, err := s.ReadFile(ctx, id, io.Discard); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("trust %v: second read of a damaged object: %v, want ErrCorrupt", trust, err)
		}
	}
}
