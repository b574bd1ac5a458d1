package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/dv-ml/dv/objects"
)

// FetchStats reports a fetch.
type FetchStats struct {
	Objects  int   `json:"objects"`  // objects downloaded
	Bytes    int64 `json:"bytes"`    // bytes downloaded
	Requests int   `json:"requests"` // ranged GETs
	Missing  int   `json:"missing"`  // needed objects the remote lacks
}

// BlobSink receives the content of each blob a fetch verified and stored,
// as it arrives: a checkout writes it into the work tree then, instead of
// reading it back from the store (workspace.Prefill). Blob is called from
// several goroutines at once and must not keep data after it returns.
type BlobSink interface {
	Blob(id objects.ID, data []byte)
}

// Fetched holds the decoded trees and lists a fetch stored, by id, for a
// sink to plan with before they are readable from the store.
type Fetched map[objects.ID][]byte

// Fetch downloads every object reachable from roots that the local store
// lacks, level by level (trees first, then what they name). Objects of one
// pack are fetched with as few ranged reads as their layout allows, and
// every object is verified against its id before it is stored.
func (s *Syncer) Fetch(ctx context.Context, roots []objects.ID) (FetchStats, error) {
	return s.FetchInto(ctx, roots, nil)
}

// FetchInto is Fetch, and with prepare it also hands every fetched blob to
// a sink: the trees, lists and records are fetched first (the blobs they
// name wait), then prepare makes the sink from the trees and lists, then
// the blobs are fetched. Everything is stored by one writer, durable at
// the end, as in Fetch.
func (s *Syncer) FetchInto(ctx context.Context, roots []objects.ID, prepare func(context.Context, Fetched) BlobSink) (FetchStats, error) {
	var st FetchStats
	ridx, err := s.LoadIndex(ctx)
	if err != nil {
		return st, err
	}
	w := s.Local.NewWriter()
	w.TrustWritten() // every object is verified before it is put
	defer w.Abort()
	known := &childMap{m: map[objects.ID][]objects.ID{}}
	if prepare != nil {
		known.meta = Fetched{}
	}
	seen := map[objects.ID]bool{}
	var blobs []objects.ID // held back for the sink
	frontier := roots
	for len(frontier) > 0 {
		var want []objects.ID
		var next []objects.ID
		for _, id := range frontier {
			if seen[id] {
				continue
			}
			seen[id] = true
			if w.Has(id) {
				kids, ok := known.get(id)
				if !ok {
					var err error
					if kids, err = s.localChildren(ctx, id); err != nil {
						return st, err
					}
				}
				next = append(next, kids...)
				continue
			}
			l, ok := ridx.Objects[id]
			switch {
			case !ok:
				st.Missing++
			case prepare != nil && l.Type == objects.TypeBlob:
				blobs = append(blobs, id)
			default:
				want = append(want, id)
			}
		}
		got, err := s.fetchObjects(ctx, ridx, want, w, known, &st, nil)
		if err != nil {
			return st, err
		}
		for _, o := range got {
			next = append(next, o...)
		}
		frontier = next
	}
	if len(blobs) > 0 {
		sink := prepare(ctx, known.meta)
		known.meta = nil
		want := blobs[:0]
		for _, id := range blobs {
			if !w.Has(id) { // a greedy read may have brought it in
				want = append(want, id)
			}
		}
		if _, err := s.fetchObjects(ctx, ridx, want, w, known, &st, sink); err != nil {
			return st, err
		}
	}
	return st, w.Flush(ctx)
}

// FetchOne downloads the single objects ids (not what they name).
func (s *Syncer) FetchOne(ctx context.Context, ridx *Index, ids []objects.ID) (FetchStats, error) {
	var st FetchStats
	w := s.Local.NewWriter()
	w.TrustWritten() // every object is verified before it is put
	defer w.Abort()
	var want []objects.ID
	for _, id := range ids {
		if !w.Has(id) {
			want = append(want, id)
		}
	}
	if _, err := s.fetchObjects(ctx, ridx, want, w, &childMap{m: map[objects.ID][]objects.ID{}}, &st, nil); err != nil {
		return st, err
	}
	return st, w.Flush(ctx)
}

func (s *Syncer) localChildren(ctx context.Context, id objects.ID) ([]objects.ID, error) {
	l, ok := s.Local.Lookup(id)
	if !ok || l.Type == objects.TypeBlob {
		return nil, nil // a blob, or fetched in this run (its children are known)
	}
	return s.Local.Children(ctx, id)
}

// childMap remembers the children of the trees, lists and records fetched
// in this run, which the writer holds but the store cannot read yet.
type childMap struct {
	mu   sync.Mutex
	m    map[objects.ID][]objects.ID
	meta Fetched // when not nil, the decoded trees and lists themselves too
}

func (c *childMap) get(id objects.ID) ([]objects.ID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[id]
	return k, ok
}

func (c *childMap) set(e objects.Entry, kids []objects.ID, data []byte) {
	c.mu.Lock()
	c.m[e.ID] = kids
	if c.meta != nil && (e.Type == objects.TypeTree || e.Type == objects.TypeList) {
		c.meta[e.ID] = bytes.Clone(data) // data may be the read buffer
	}
	c.mu.Unlock()
}

// span is one ranged read of a remote pack.
type span struct {
	pack    objects.ID
	off     uint64
	end     uint64
	entries []objects.Entry
}

// maxGap is the largest hole between two wanted objects that is read
// rather than split into two requests.
const maxGap = 1 << 20

func plan(ridx *Index, ids []objects.ID) []span {
	byPack := map[objects.ID][]objects.Entry{}
	for _, id := range ids {
		l := ridx.Objects[id]
		byPack[l.Pack] = append(byPack[l.Pack], l.Entry)
	}
	var spans []span
	for pack, es := range byPack {
		sort.Slice(es, func(i, j int) bool { return es[i].Offset < es[j].Offset })
		var cur *span
		for _, e := range es {
			end := e.Offset + uint64(e.Length)
			if cur != nil && e.Offset <= cur.end+maxGap && end-cur.off <= 2*objects.PackTargetSize {
				cur.end = max(cur.end, end)
				cur.entries = append(cur.entries, e)
				continue
			}
			spans = append(spans, span{pack: pack, off: e.Offset, end: end, entries: []objects.Entry{e}})
			cur = &spans[len(spans)-1]
		}
	}
	return spans
}

// fetchObjects downloads ids into w and returns, per downloaded tree,
// list or record, the ids it names. With Greedy, every other object that a
// ranged read brings in whole is verified and stored too (a hole read
// through is often the next level's data). Children of what is stored are
// remembered in known. Every stored blob goes to sink, when there is one.
func (s *Syncer) fetchObjects(ctx context.Context, ridx *Index, ids []objects.ID, w *objects.Writer, known *childMap, st *FetchStats, sink BlobSink) ([][]objects.ID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	spans := plan(ridx, ids)
	var mu sync.Mutex
	var kids [][]objects.ID
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.jobs())
	for _, sp := range spans {
		g.Go(func() error {
			name := PacksPrefix + sp.pack.String()
			rs := newRangeStream(gctx, s.Remote, name, int64(sp.off), int64(sp.end))
			defer rs.Close()
			local, stored, err := s.fetchSpan(gctx, ridx, sp, rs, w, known, sink)
			mu.Lock()
			st.Requests += rs.requests
			st.Objects += stored
			st.Bytes += rs.read
			kids = append(kids, local...)
			mu.Unlock()
			if errors.Is(err, ErrNotFound) {
				return &objects.CorruptError{What: "remote pack", Name: sp.pack.String(), Reason: "named by the remote index but missing"}
			}
			return err
		})
	}
	return kids, g.Wait()
}

// fetchSpan reads the objects of one span as they arrive, verifies each
// against its id and stores it. It returns the children of the wanted
// trees, lists and records, and how many objects it stored.
func (s *Syncer) fetchSpan(ctx context.Context, ridx *Index, sp span, rs *rangeStream, w *objects.Writer, known *childMap, sink BlobSink) ([][]objects.ID, int, error) {
	wanted := map[objects.ID]bool{}
	for _, e := range sp.entries {
		wanted[e.ID] = true
	}
	candidates := sp.entries
	if s.Greedy {
		candidates = ridx.inRange(sp.pack, sp.off, sp.end)
	}
	bp := spanPool.Get().(*[]byte)
	defer spanPool.Put(bp)
	var local [][]objects.ID
	stored := 0
	for _, e := range candidates {
		if !wanted[e.ID] && w.Has(e.ID) {
			continue
		}
		raw, err := readObject(rs, e, bp)
		if err != nil {
			return local, stored, fmt.Errorf("fetch %s: %w", rs.name, err)
		}
		s.progress(int64(len(raw)))
		data, err := objects.DecodeStored(e, raw)
		if err != nil {
			if !wanted[e.ID] {
				continue // not needed now; if it ever is, it fails then
			}
			return local, stored, &objects.CorruptError{What: "remote object", Name: e.ID.String(),
				Reason: fmt.Sprintf("in pack %s on %s: %v; refused", sp.pack.Short(), s.Remote, err)}
		}
		if err := w.PutStored(ctx, e, raw); err != nil {
			return local, stored, err
		}
		stored++
		if e.Type == objects.TypeBlob && sink != nil {
			sink.Blob(e.ID, data)
		}
		if e.Type != objects.TypeBlob {
			c, err := objects.StoredChildren(e, raw)
			if err != nil {
				return local, stored, err
			}
			known.set(e, c, data)
			if wanted[e.ID] {
				local = append(local, c)
			}
		}
	}
	return local, stored, nil
}

// spanPool keeps the buffers objects are read into (one chunk at most,
// mostly; larger trees and lists grow it).
var spanPool = sync.Pool{New: func() any { b := make([]byte, objects.ChunkMax); return &b }}

// readObject reads the stored bytes of e into *bp. An object larger than
// readRangeFirst is read in pieces into a buffer that doubles as they
// arrive: an index may claim more than the pack holds, and that claim is
// not allocated before the pack has shown it.
func readObject(rs *rangeStream, e objects.Entry, bp *[]byte) ([]byte, error) {
	n := int(e.Length)
	b := (*bp)[:0]
	for len(b) < n {
		k := min(n-len(b), max(len(b), readRangeFirst))
		if cap(b) < len(b)+k {
			nb := make([]byte, len(b), len(b)+k)
			copy(nb, b)
			b = nb
		}
		if err := rs.ReadAt(b[len(b):len(b)+k], int64(e.Offset)+int64(len(b))); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("read %s [%d+%d]: %w", rs.name, e.Offset, e.Length, err)
			}
			return nil, err
		}
		b = b[:len(b)+k]
	}
	if cap(b) <= 2*objects.ChunkMax {
		*bp = b[:0]
	}
	return b, nil
}
