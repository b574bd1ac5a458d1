package objects

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

const lockRetry = 50 * time.Millisecond

// Writer adds objects to a Store. Objects go into pack files; each pack,
// once full or at Flush, is synced and renamed into place; at Flush one
// index file for all of them is written, so an interrupted writer leaves
// whole packs (indexed, or not yet: dv gc removes those) or unreferenced
// temporary files, never a half object.
// Its methods are safe for concurrent use.
type Writer struct {
	s *Store

	mu        sync.Mutex
	cur       *packWriter
	pending   map[ID]bool // in the current pack, not yet indexed
	unindexed []PackIndex // committed packs whose index file Flush writes
	err       error

	statsMu sync.Mutex
	stats   WriteStats

	finishing chan struct{} // bounds packs being committed in the background
	wg        sync.WaitGroup

	trust bool // see TrustWritten
}

// TrustWritten marks the objects this writer commits as verified: the
// Store's first read of each from the pack it was written to (the
// checkout that follows a fetch) does not hash it again; later reads do.
// Only for callers that verified every object they put against its id (a
// fetch, with VerifyStored), so that a pulled object is hashed once.
func (w *Writer) TrustWritten() { w.trust = true }

// maxFinishing is how many full packs may be syncing at once.
const maxFinishing = 2

// WriteStats counts what a Writer stored.
type WriteStats struct {
	Objects     int   `json:"objects"`      // new objects stored
	RawBytes    int64 `json:"raw_bytes"`    // their decoded size
	StoredBytes int64 `json:"stored_bytes"` // their size in packs
	Packs       int   `json:"packs"`        // packs written
}

// NewWriter returns a Writer adding to s.
func (s *Store) NewWriter() *Writer {
	return &Writer{s: s, pending: map[ID]bool{}, finishing: make(chan struct{}, maxFinishing)}
}

// Stats returns what the writer has stored so far.
func (w *Writer) Stats() WriteStats {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	return w.stats
}

// Put stores data as an object of type t unless the store has it already,
// and returns its id.
func (w *Writer) Put(ctx context.Context, t Type, data []byte) (ID, error) {
	id := Hash(t, data)
	return id, w.PutID(ctx, id, t, data)
}

// PutID stores data, whose id the caller computed, unless present.
func (w *Writer) PutID(ctx context.Context, id ID, t Type, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(data) > MaxObjectSize || (t == TypeBlob && len(data) > ChunkMax) {
		return fmt.Errorf("object of %d bytes over the size limit", len(data))
	}
	if w.s.Has(id) || w.isPending(id) {
		return nil
	}
	return w.putForce(ctx, id, t, data)
}

// putForce stores data even when the store's index has it (GC uses it to
// move live objects out of packs it deletes).
func (w *Writer) putForce(ctx context.Context, id ID, t Type, data []byte) error {
	bp := compressPool.Get().(*[]byte)
	stored, comp, err := compress(*bp, data)
	if err != nil {
		compressPool.Put(bp)
		return err
	}
	err = w.append(id, t, comp, stored, len(data)) // copies stored into the pack
	if comp == compZstd && cap(stored) <= 2*ChunkMax {
		*bp = stored[:0]
	}
	compressPool.Put(bp)
	return err
}

// append adds a stored object to the current pack, closing the pack when
// it is full. Its place in the pack is taken under the lock; its bytes are
// written after (packWriter.reserve), before append returns.
func (w *Writer) append(id ID, t Type, comp uint8, stored []byte, rawLen int) error {
	var err error
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return w.err
	}
	if w.pending[id] {
		w.mu.Unlock()
		return nil
	}
	if w.cur == nil {
		w.cur, err = newPackWriter(filepath.Join(w.s.dir, TmpDir))
		if err != nil {
			w.err = err
			w.mu.Unlock()
			return err
		}
	}
	p := w.cur
	var wbuf [2]packWrite
	ws := p.addEntry(wbuf[:0], id, t, comp, stored, rawLen)
	w.pending[id] = true
	var full *packWriter
	if p.size() >= PackTargetSize {
		full, w.cur = p, nil
	}
	w.mu.Unlock()

	if err := p.do(ws); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		return err
	}

	w.statsMu.Lock()
	w.stats.Objects++
	w.stats.RawBytes += int64(rawLen)
	w.stats.StoredBytes += int64(len(stored))
	w.statsMu.Unlock()

	if full != nil {
		// Sync and commit the full pack in the background, so that hashing
		// and compressing go on while the disk catches up (its writes
		// still in flight are waited for). At most maxFinishing packs wait
		// at once; Flush waits for all.
		w.finishing <- struct{}{}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() { <-w.finishing }()
			_ = w.finishPack(full) // the error is kept in w.err
		}()
	}
	return nil
}

func (w *Writer) isPending(id ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending[id]
}

// finishPack commits a full pack and its index file, then makes its objects
// visible in the store's index.
func (w *Writer) finishPack(p *packWriter) error {
	err := w.commitPack(p)
	w.mu.Lock()
	for _, e := range p.entries {
		delete(w.pending, e.ID)
	}
	if err != nil && w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	return err
}

// commitPack makes a full pack durable and its objects visible in the
// store's in-memory index. Its index file is written once for all of the
// writer's packs, by Flush (or Abort): one index file and two fsyncs per
// dv add rather than per 32 MiB pack. Until then a killed process leaves
// whole, unindexed packs, which G1 allows and dv gc removes.
func (w *Writer) commitPack(p *packWriter) error {
	packID, err := p.finish(filepath.Join(w.s.dir, PacksDir))
	if err != nil {
		return err
	}
	pi := PackIndex{Pack: packID, Entries: p.entries}
	if w.trust {
		for _, e := range p.entries {
			w.s.trusted.Store(e.ID, packID)
		}
	}
	w.s.mu.Lock()
	w.s.addToIndex([]PackIndex{pi})
	w.s.mu.Unlock()
	w.mu.Lock()
	w.unindexed = append(w.unindexed, pi)
	w.mu.Unlock()
	w.statsMu.Lock()
	w.stats.Packs++
	w.statsMu.Unlock()
	return nil
}

// writeUnindexed writes one index file for the packs committed since the
// last one.
func (w *Writer) writeUnindexed() error {
	w.mu.Lock()
	packs := w.unindexed
	w.unindexed = nil
	w.mu.Unlock()
	if len(packs) == 0 {
		return nil
	}
	if err := SyncDir(filepath.Join(w.s.dir, PacksDir)); err != nil { // the packs' renames
		return err
	}
	if err := w.s.writeIndex(packs); err != nil {
		return err
	}
	return w.s.mergeIndex()
}

// writeIndex writes one index file for packs and merges it into s.
func (s *Store) writeIndex(packs []PackIndex) error {
	b, name := EncodeIndex(packs)
	if err := WriteFileAtomic(filepath.Join(s.dir, IndexDir, name), b, 0o444); err != nil {
		return err
	}
	s.mu.Lock()
	s.indexFiles[name] = true
	s.addToIndex(packs)
	s.mu.Unlock()
	return nil
}

// Flush commits the current pack, if any. After Flush returns nil every
// object put so far is durable and indexed.
func (w *Writer) Flush(ctx context.Context) error {
	w.wg.Wait()
	w.mu.Lock()
	p := w.cur
	w.cur = nil
	err := w.err
	w.mu.Unlock()
	if err != nil {
		if p != nil {
			p.abort()
		}
		_ = w.writeUnindexed() // whole packs: index them all the same
		return err
	}
	if p != nil {
		if err := ctx.Err(); err != nil {
			p.abort()
			_ = w.writeUnindexed()
			return err
		}
		if err := w.finishPack(p); err != nil {
			_ = w.writeUnindexed()
			return err
		}
	}
	return w.writeUnindexed()
}

// Abort discards the current, uncommitted pack.
func (w *Writer) Abort() {
	w.wg.Wait()
	w.mu.Lock()
	p := w.cur
	w.cur = nil
	if w.err == nil {
		w.err = errors.New("writer aborted")
	}
	w.mu.Unlock()
	if p != nil {
		p.abort()
	}
	// Committed packs are whole and already in the in-memory index: write
	// their index file so that the store on disk agrees with it.
	_ = w.writeUnindexed()
}

// Has reports whether the store or this writer's pending pack holds id.
func (w *Writer) Has(id ID) bool { return w.s.Has(id) || w.isPending(id) }
