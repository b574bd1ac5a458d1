package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Parallel chunking of one large file (docs/CHUNKING.md, "Parallel
// chunking"). The file is split into segments of segmentSize bytes. Each
// segment is read on its own (with ChunkMax bytes of the next one, so that
// every chunk that starts in it ends in its buffer) and chunked from its
// first byte as if a chunk started there: its candidate chain. The true
// chain (the serial chunker's) enters segment k at the end of the last chunk
// that started in segment k-1; from there it is continued with cutPoint,
// one chunk at a time, until it lands on a candidate. A cut point depends
// only on its position and the bytes after it, so from that candidate on
// the two chains are the same and the rest of the candidates are final.
// On random data the chains meet within a chunk or two; on data without
// cuts (long runs of one byte) they may never meet, and the walk then
// chunks the whole segment serially: slower, never different.
//
// The work on each segment (read, candidates, resynchronisation, hashing,
// compressing and storing its chunks) runs in one goroutine; only the
// resynchronisation is ordered. Memory is bounded by a process-wide number
// of segment buffers (segmentSlots), whatever the number of files added at
// once.

const (
	// segmentSize is the number of bytes of a file one parallel task owns.
	segmentSize = 2 << 20
	// parallelMin is the smallest file chunked in segments; smaller files
	// go through the serial chunker.
	parallelMin = 2 * segmentSize
	// parallelJobs is the fewest jobs for which a file is chunked in
	// segments. Two: on 2 cores the serial path copies every byte twice
	// more (the chunker's buffer, then a buffer per chunk) and keeps one
	// core on reading and chunking; segments cost the overlap read (1/8
	// more read) and the resynchronisation, and put every stage on both
	// cores: dv add of 256 MiB of random data took 0.52 s of CPU against
	// 0.59 s, and 0.64 s against 0.70 s of wall time (medians of 11 pairs,
	// on a loaded 2-core machine).
	parallelJobs = 2
)

var (
	segSlotsOnce sync.Once
	segSlots     chan struct{}
	segFree      chan *[]byte
)

// segmentSlots bounds the segment buffers in use in the process: one more
// than the number of CPUs, at least 3 and at most 16 (36 MiB).
func segmentSlots() chan struct{} {
	segSlotsOnce.Do(func() {
		n := min(max(runtime.GOMAXPROCS(0)+1, 3), 16)
		segSlots = make(chan struct{}, n)
		segFree = make(chan *[]byte, n)
	})
	return segSlots
}

// getSegBuf returns a segment buffer; the caller holds a slot. Buffers are
// kept in a free list rather than a sync.Pool: a pool is emptied at every
// garbage collection, and a fresh 2 MiB buffer costs five hundred page
// faults, as much as chunking a quarter of it.
func getSegBuf() *[]byte {
	select {
	case bp := <-segFree:
		return bp
	default:
		b := make([]byte, segmentSize+ChunkMax)
		return &b
	}
}

func putSegBuf(bp *[]byte) {
	select {
	case segFree <- bp:
	default:
	}
}

// PutFileAt is PutFile for a file of known size that can be read at any
// offset (an *os.File): a large file is chunked, hashed, compressed and
// stored by up to jobs+1 segments at once (with fewer than parallelJobs
// jobs, or a small file, by PutFile). The chunks, hence the ids, are
// exactly PutFile's. progress, when not nil, is called with the number of
// bytes of the file read so far by each segment, once per segment. The file
// must keep its size while it is read: a short read, or bytes past size,
// are an error.
func PutFileAt(ctx context.Context, w Putter, r io.ReaderAt, size int64, jobs int, progress func(int64)) (ID, int64, error) {
	if jobs < parallelJobs || size < parallelMin {
		pr := &progressReader{r: io.NewSectionReader(r, 0, size), progress: progress}
		id, n, err := PutFile(ctx, w, pr, jobs)
		switch {
		case err != nil:
			return ID{}, 0, err
		case n != size:
			return ID{}, 0, errChanged(size, "it shrank")
		}
		if err := checkNoMore(r, size); err != nil {
			return ID{}, 0, err
		}
		return id, n, nil
	}
	put := func(ctx context.Context, data []byte) (ID, error) { return w.Put(ctx, TypeBlob, data) }
	refs, err := chunkParallel(ctx, r, size, segmentSize, jobs, put, progress)
	if err != nil {
		return ID{}, 0, err
	}
	if err := checkNoMore(r, size); err != nil {
		return ID{}, 0, err
	}
	id, err := w.Put(ctx, TypeList, EncodeList(refs))
	return id, size, err
}

// errChanged reports a file whose size changed while it was read.
func errChanged(size int64, how string) error {
	return fmt.Errorf("changed while being read (%s, expected %d bytes)", how, size)
}

// checkNoMore fails when r has bytes past size.
func checkNoMore(r io.ReaderAt, size int64) error {
	var b [1]byte
	if n, _ := r.ReadAt(b[:], size); n > 0 {
		return errChanged(size, "it grew")
	}
	return nil
}

type progressReader struct {
	r        io.Reader
	progress func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if p.progress != nil && n > 0 {
		p.progress(int64(n))
	}
	return n, err
}

// chunkParallel cuts the size bytes of r into the serial chunker's chunks,
// in segments of segSize bytes (segSize >= ChunkMax), calls put for each
// chunk and returns the chunks in file order. Up to jobs+1 segments (and
// the process-wide limit) are worked on at once.
func chunkParallel(ctx context.Context, r io.ReaderAt, size, segSize int64, jobs int,
	put func(context.Context, []byte) (ID, error), progress func(int64)) ([]ChunkRef, error) {
	if segSize < ChunkMax {
		return nil, errors.New("objects: segment smaller than ChunkMax")
	}
	nseg := int((size + segSize - 1) / segSize)
	segRefs := make([][]ChunkRef, nseg)
	g, gctx := errgroup.WithContext(ctx)
	local := make(chan struct{}, max(jobs, 1)+1)
	global := segmentSlots()
	in := make(chan int64, 1)
	in <- 0 // the first chunk starts at 0
dispatch:
	for k := 0; k < nseg; k++ {
		select {
		case local <- struct{}{}:
		case <-gctx.Done():
			break dispatch
		}
		select {
		case global <- struct{}{}:
		case <-gctx.Done():
			<-local
			break dispatch
		}
		out := make(chan int64, 1)
		seg := &segTask{r: r, size: size, off: int64(k) * segSize, segSize: segSize,
			in: in, out: out, put: put, progress: progress}
		refs := &segRefs[k]
		g.Go(func() error {
			defer func() { <-global; <-local }()
			var err error
			*refs, err = seg.run(gctx)
			return err
		})
		in = out
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if end := <-in; end != size {
		return nil, fmt.Errorf("objects: parallel chunking ended at %d of %d bytes", end, size)
	}
	n := 0
	for _, s := range segRefs {
		n += len(s)
	}
	refs := make([]ChunkRef, 0, n)
	for _, s := range segRefs {
		refs = append(refs, s...)
	}
	return refs, nil
}

// segTask is the work on one segment: it owns the chunks that start in
// [off, off+segSize).
type segTask struct {
	r            io.ReaderAt
	size         int64
	off, segSize int64
	in           <-chan int64 // where the true chain enters this segment
	out          chan<- int64 // where it enters the next one
	put          func(context.Context, []byte) (ID, error)
	progress     func(int64)
}

func (t *segTask) run(ctx context.Context) ([]ChunkRef, error) {
	off := t.off
	end := min(off+t.segSize, t.size) // owned chunks start before end
	bufEnd := min(end+ChunkMax, t.size)
	var bp *[]byte
	if t.segSize == segmentSize {
		bp = getSegBuf()
		defer putSegBuf(bp)
	} else {
		b := make([]byte, t.segSize+ChunkMax)
		bp = &b
	}
	buf := (*bp)[:bufEnd-off]
	if n, err := t.r.ReadAt(buf, off); n < len(buf) {
		if err == nil || err == io.EOF {
			err = errChanged(t.size, "it shrank")
		}
		return nil, err
	}
	if t.progress != nil {
		t.progress(end - off)
	}

	// The candidate chain: chunk boundaries as if a chunk started at off.
	// Every position p < end has at least ChunkMax bytes after it in buf,
	// or all the rest of the file, as cutPoint needs.
	cands := make([]int64, 1, 2*t.segSize/ChunkAvg+2)
	cands[0] = off
	for p := off; p < end; {
		p += int64(cutPoint(buf[p-off:]))
		cands = append(cands, p)
	}

	var e int64
	select {
	case e = <-t.in:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e < off || e >= off+ChunkMax && e < t.size {
		return nil, fmt.Errorf("objects: chain enters segment at %d, outside [%d, %d)", e, off, off+ChunkMax)
	}
	// Resynchronise: follow the true chain from e until it meets a candidate.
	chain := []int64{e}
	i := 0
	for p := e; p < end; {
		for i < len(cands) && cands[i] < p {
			i++
		}
		if cands[i] == p { // cands ends at or past end, so i is in range
			chain = append(chain, cands[i+1:]...)
			break
		}
		p += int64(cutPoint(buf[p-off:]))
		chain = append(chain, p)
	}
	t.out <- chain[len(chain)-1]

	refs := make([]ChunkRef, 0, len(chain)-1)
	for j := 0; j+1 < len(chain) && chain[j] < end; j++ {
		data := buf[chain[j]-off : chain[j+1]-off]
		id, err := t.put(ctx, data)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ChunkRef{ID: id, Size: uint32(len(data))})
	}
	return refs, nil
}
