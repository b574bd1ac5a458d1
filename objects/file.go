package objects

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// chunkerPool keeps chunkers (each has a 1 MiB buffer) for reuse: adding
// 100,000 small files must not allocate and clear 100 GiB.
var chunkerPool = sync.Pool{New: func() any { return NewChunker(nil) }}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, ChunkMax); return &b }}

// Putter stores an object and returns its id. *Writer is one; HashOnly
// computes ids without storing anything.
type Putter interface {
	Put(ctx context.Context, t Type, data []byte) (ID, error)
}

// HashOnly is a Putter that stores nothing.
type HashOnly struct{}

// Put returns the id of data.
func (HashOnly) Put(_ context.Context, t Type, data []byte) (ID, error) { return Hash(t, data), nil }

// PutFile cuts r into chunks, puts them to w, and returns the file's
// content id: the blob id when the file is one chunk (or empty), else the id
// of a List of its chunks. Up to jobs chunks are put at once.
func PutFile(ctx context.Context, w Putter, r io.Reader, jobs int) (ID, int64, error) {
	ch := chunkerPool.Get().(*Chunker)
	ch.Reset(r)
	defer func() { ch.Reset(nil); chunkerPool.Put(ch) }()
	first, err := ch.Next()
	if err == io.EOF {
		id, err := w.Put(ctx, TypeBlob, nil)
		return id, 0, err
	}
	if err != nil {
		return ID{}, 0, err
	}
	firstCopy := append([]byte(nil), first...)
	second, err := ch.Next()
	if err == io.EOF {
		id, err := w.Put(ctx, TypeBlob, firstCopy)
		return id, int64(len(firstCopy)), err
	}
	if err != nil {
		return ID{}, 0, err
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(jobs, 1))
	var refs []*ChunkRef
	var total int64
	submit := func(data []byte) {
		bp := chunkPool.Get().(*[]byte)
		buf := (*bp)[:0]
		buf = append(buf, data...)
		ref := &ChunkRef{Size: uint32(len(buf))}
		refs = append(refs, ref)
		total += int64(len(buf))
		g.Go(func() error {
			defer func() { *bp = buf[:0]; chunkPool.Put(bp) }()
			id, err := w.Put(gctx, TypeBlob, buf)
			ref.ID = id
			return err
		})
	}
	submit(firstCopy)
	for data := second; ; {
		if gctx.Err() != nil {
			break
		}
		submit(data)
		data, err = ch.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = g.Wait()
			return ID{}, 0, err
		}
	}
	if err := g.Wait(); err != nil {
		return ID{}, 0, err
	}
	if err := ctx.Err(); err != nil {
		return ID{}, 0, err
	}
	list := make([]ChunkRef, len(refs))
	for i, r := range refs {
		list[i] = *r
	}
	id, err := w.Put(ctx, TypeList, EncodeList(list))
	return id, total, err
}

// FileChunks returns the chunks of the file with content id, and its size.
func (s *Store) FileChunks(ctx context.Context, id ID) ([]ChunkRef, int64, error) {
	l, ok := s.Lookup(id)
	if !ok {
		return nil, 0, &NotFoundError{ID: id}
	}
	switch l.Type {
	case TypeBlob:
		return []ChunkRef{{ID: id, Size: l.RawLen}}, int64(l.RawLen), nil
	case TypeList:
		b, err := s.LoadType(ctx, id, TypeList)
		if err != nil {
			return nil, 0, err
		}
		chunks, err := DecodeList(b)
		if err != nil {
			return nil, 0, corrupt("list", id.String(), "%v", err)
		}
		var n int64
		for _, c := range chunks {
			n += int64(c.Size)
		}
		return chunks, n, nil
	}
	return nil, 0, fmt.Errorf("object %s is a %s, not file content", id.Short(), l.Type)
}

// ReadFile writes the content of file id to dst, verifying every chunk.
func (s *Store) ReadFile(ctx context.Context, id ID, dst io.Writer) (int64, error) {
	chunks, _, err := s.FileChunks(ctx, id)
	if err != nil {
		return 0, err
	}
	var n int64
	bp := readPool.Get().(*[]byte)
	defer readPool.Put(bp)
	for _, c := range chunks {
		data, err := s.loadChunk(ctx, c.ID, bp)
		if err != nil {
			return n, err
		}
		if len(data) != int(c.Size) {
			return n, corrupt("list", id.String(), "chunk %s has %d bytes, list says %d", c.ID.Short(), len(data), c.Size)
		}
		m, err := dst.Write(data)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReadFileAt writes the content of file id into dst from offset 0, like
// ReadFile, in up to jobs contiguous parts of at least ParallelReadMin
// bytes written at once: checking out one large file then uses every core
// (reading, verifying, copying) instead of one.
func (s *Store) ReadFileAt(ctx context.Context, id ID, dst io.WriterAt, jobs int) (int64, error) {
	chunks, size, err := s.FileChunks(ctx, id)
	if err != nil {
		return 0, err
	}
	parts := int(max(min(int64(jobs), size/ParallelReadMin), 1))
	var written atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	start, off := 0, int64(0)
	for p := range parts {
		end, o := start, off
		for end < len(chunks) && (o < size*int64(p+1)/int64(parts) || p == parts-1) {
			o += int64(chunks[end].Size)
			end++
		}
		seg, segOff := chunks[start:end], off
		g.Go(func() error {
			n, err := s.readChunksAt(gctx, id, seg, dst, segOff)
			written.Add(n)
			return err
		})
		start, off = end, o
	}
	err = g.Wait()
	return written.Load(), err
}

// ParallelReadMin is the smallest part of a file ReadFileAt gives one
// goroutine.
const ParallelReadMin = 8 << 20

// readChunksAt writes chunks, the part of file id that starts at off, to
// dst through a 1 MiB buffer.
func (s *Store) readChunksAt(ctx context.Context, id ID, chunks []ChunkRef, dst io.WriterAt, off int64) (int64, error) {
	bp := readPool.Get().(*[]byte)
	defer readPool.Put(bp)
	buf := make([]byte, 0, 1<<20)
	var n int64
	flush := func() error {
		m, err := dst.WriteAt(buf, off+n)
		n += int64(m)
		buf = buf[:0]
		return err
	}
	for _, c := range chunks {
		data, err := s.loadChunk(ctx, c.ID, bp)
		if err != nil {
			return n, err
		}
		if len(data) != int(c.Size) {
			return n, corrupt("list", id.String(), "chunk %s has %d bytes, list says %d", c.ID.Short(), len(data), c.Size)
		}
		if len(buf)+len(data) > cap(buf) {
			if err := flush(); err != nil {
				return n, err
			}
		}
		if len(data) > cap(buf) {
			m, err := dst.WriteAt(data, off+n)
			n += int64(m)
			if err != nil {
				return n, err
			}
			continue
		}
		buf = append(buf, data...)
	}
	if len(buf) == 0 {
		return n, nil
	}
	return n, flush()
}

// readPool keeps ReadFile's buffers for stored chunks.
var readPool = sync.Pool{New: func() any { b := make([]byte, ChunkMax); return &b }}

// loadChunk is LoadType(id, TypeBlob) reading the stored bytes into *bp
// (which it may replace with a larger buffer); the data it returns is
// valid until the next use of *bp.
func (s *Store) loadChunk(ctx context.Context, id ID, bp *[]byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, ok := s.Lookup(id)
	if !ok {
		return s.LoadType(ctx, id, TypeBlob) // Load refreshes the index
	}
	if l.Type != TypeBlob {
		return nil, fmt.Errorf("object %s is a %s, not a %s", id.Short(), l.Type, TypeBlob)
	}
	l, stored, err := s.readStoredInto(id, l, *bp)
	if err != nil {
		return nil, err
	}
	if cap(stored) > cap(*bp) {
		*bp = stored[:0]
	}
	data, err := decompress(l.Comp, stored, int(l.RawLen))
	if err != nil {
		return nil, &CorruptError{What: "object", Name: id.String(), Reason: fmt.Sprintf("in pack %s: %v", l.Pack.Short(), err), Err: err}
	}
	if !s.isTrusted(id, l.Pack) && Hash(TypeBlob, data) != id {
		return nil, corrupt("object", id.String(), "content does not match its id (pack %s)", l.Pack.Short())
	}
	return data, nil
}

// Children returns the ids an object refers to: a tree's entries, a list's
// chunks. Blobs refer to nothing.
func (s *Store) Children(ctx context.Context, id ID) ([]ID, error) {
	t, data, err := s.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	return children(id, t, data)
}

func children(id ID, t Type, data []byte) ([]ID, error) {
	switch t {
	case TypeTree:
		tree, err := DecodeTree(data)
		if err != nil {
			return nil, corrupt("tree", id.String(), "%v", err)
		}
		var ids []ID
		for _, e := range tree.Entries {
			if !e.ID.IsZero() {
				ids = append(ids, e.ID)
			}
		}
		return ids, nil
	case TypeList:
		chunks, err := DecodeList(data)
		if err != nil {
			return nil, corrupt("list", id.String(), "%v", err)
		}
		ids := make([]ID, len(chunks))
		for i, c := range chunks {
			ids[i] = c.ID
		}
		return ids, nil
	case TypeRecord:
		// Every record names what it links to in these three keys
		// (docs/FORMATS.md, "Records"); the rest is lineage's business.
		var links struct {
			Parents  []ID `json:"parents"`
			Previous *ID  `json:"previous"`
			Objects  []ID `json:"objects"`
		}
		if err := json.Unmarshal(data, &links); err != nil {
			return nil, corrupt("record", id.String(), "%v", err)
		}
		ids := slices.Concat(links.Parents, links.Objects)
		if links.Previous != nil {
			ids = append(ids, *links.Previous)
		}
		return ids, nil
	}
	return nil, nil
}
