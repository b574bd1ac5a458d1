package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/objects"
)

// readAhead is how many chunks are loaded (read, decompressed, verified)
// ahead of the one being written: at most (readAhead+1) × 256 KiB in
// memory per file.
const readAhead = 8

type loaded struct {
	data []byte
	err  error
}

// streamFile writes f's content to w, reading its chunks from the store a
// few ahead of the writer, and fills in f's SHA256 and BLAKE3, computed in
// the same pass (SHA-256 beside the write, on another goroutine).
func streamFile(ctx context.Context, s *objects.Store, f *planFile, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan chan loaded, readAhead)
	var loads sync.WaitGroup
	go func() {
		defer close(queue)
		for _, c := range f.chunks {
			ch := make(chan loaded, 1)
			select {
			case queue <- ch:
			case <-ctx.Done():
				return
			}
			loads.Add(1)
			go func(c objects.ChunkRef) {
				defer loads.Done()
				data, err := s.LoadType(ctx, c.ID, objects.TypeBlob)
				if err == nil && len(data) != int(c.Size) {
					err = &objects.CorruptError{What: "list", Name: f.ID.String(),
						Reason: fmt.Sprintf("chunk %s has %d bytes, list says %d", c.ID.Short(), len(data), c.Size)}
				}
				ch <- loaded{data, err}
			}(c)
		}
	}()
	// On any return: stop the producer, and wait for the loads in flight,
	// so no goroutine outlives the call.
	defer func() {
		cancel()
		for range queue {
		}
		loads.Wait()
	}()

	sh, b3 := sha256.New(), blake3.New()
	hashing := newSideHasher(sh)
	defer hashing.close()
	var n int64
	for ch := range queue {
		var r loaded
		select {
		case r = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return fmt.Errorf("%s: %w", f.Path, r.err)
		}
		hashing.write(r.data)
		_, _ = b3.Write(r.data)
		_, err := w.Write(r.data)
		hashing.wait()
		if err != nil {
			return err
		}
		n += int64(len(r.data))
		if f.onData != nil {
			f.onData(int64(len(r.data)))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n != f.Size {
		return &objects.CorruptError{What: "file", Name: f.Path, Reason: fmt.Sprintf("read %d bytes, the tree says %d", n, f.Size)}
	}
	f.SHA256 = hex.EncodeToString(sh.Sum(nil))
	f.BLAKE3 = hex.EncodeToString(b3.Sum(nil))
	return nil
}

// sideHasher feeds a hash on its own goroutine, one buffer at a time.
type sideHasher struct {
	h    hash.Hash
	in   chan []byte
	done chan struct{}
}

func newSideHasher(h hash.Hash) *sideHasher {
	sh := &sideHasher{h: h, in: make(chan []byte), done: make(chan struct{})}
	go func() {
		for b := range sh.in {
			_, _ = sh.h.Write(b)
			sh.done <- struct{}{}
		}
		close(sh.done)
	}()
	return sh
}

// write starts hashing b; b must not change until wait returns.
func (sh *sideHasher) write(b []byte) { sh.in <- b }
func (sh *sideHasher) wait()          { <-sh.done }
func (sh *sideHasher) close() {
	close(sh.in)
	for range sh.done {
	}
}
