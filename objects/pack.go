package objects

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/zeebo/blake3"
)

// Pack file layout (version 1, see docs/FORMATS.md):
//
//	"DVPACK1\n"                      8-byte header
//	stored objects, back to back     each raw or one zstd frame
//	entry × count                    packEntrySize bytes each (see encodeEntry)
//	count  uint32 little endian
//	"DVPKEND1"                       8-byte footer magic
//
// A pack is named by the BLAKE3-256 of its trailer (entries, count and
// footer): the trailer names every object by its id, so the name commits
// to the content without hashing the data a second time (see PackID).
const (
	packHeader    = "DVPACK1\n"
	packFooter    = "DVPKEND1"
	packEntrySize = IDSize + 1 + 1 + 8 + 4 + 4
	// PackTargetSize is the size at which a pack is closed.
	PackTargetSize = 32 << 20
	// maxPackEntries bounds the entry count read from an untrusted trailer.
	maxPackEntries = 1 << 22
)

// Entry locates one stored object inside a pack.
type Entry struct {
	ID     ID
	Type   Type
	Comp   uint8
	Offset uint64 // from the start of the pack file
	Length uint32 // stored length
	RawLen uint32 // decoded length
}

func encodeEntry(b []byte, e Entry) []byte {
	b = append(b, e.ID[:]...)
	b = append(b, byte(e.Type), e.Comp)
	b = binary.LittleEndian.AppendUint64(b, e.Offset)
	b = binary.LittleEndian.AppendUint32(b, e.Length)
	b = binary.LittleEndian.AppendUint32(b, e.RawLen)
	return b
}

func appendUint32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func decodeEntry(b []byte) Entry {
	var e Entry
	copy(e.ID[:], b[:IDSize])
	b = b[IDSize:]
	e.Type = Type(b[0])
	e.Comp = b[1]
	e.Offset = binary.LittleEndian.Uint64(b[2:])
	e.Length = binary.LittleEndian.Uint32(b[10:])
	e.RawLen = binary.LittleEndian.Uint32(b[14:])
	return e
}

// check validates an entry read from an untrusted file. dataEnd is where the
// stored objects end (the trailer's start) when known, else 0.
func (e Entry) check(dataEnd uint64) error {
	if !e.Type.Valid() {
		return fmt.Errorf("object %s: unknown type %d", e.ID.Short(), uint8(e.Type))
	}
	if e.Comp != compRaw && e.Comp != compZstd {
		return fmt.Errorf("object %s: unknown compression %d", e.ID.Short(), e.Comp)
	}
	limit := uint32(MaxObjectSize)
	if e.Type == TypeBlob {
		limit = ChunkMax
	}
	if e.RawLen > limit {
		return fmt.Errorf("object %s: size %d over the limit %d", e.ID.Short(), e.RawLen, limit)
	}
	if e.Length > limit { // Load allocates Length bytes: bound it too
		return fmt.Errorf("object %s: stored length %d over the limit %d", e.ID.Short(), e.Length, limit)
	}
	if e.Comp == compRaw && e.Length != e.RawLen {
		return fmt.Errorf("object %s: raw length %d differs from size %d", e.ID.Short(), e.Length, e.RawLen)
	}
	if e.Offset < uint64(len(packHeader)) || e.Offset > 1<<40 {
		return fmt.Errorf("object %s: offset %d out of range", e.ID.Short(), e.Offset)
	}
	if dataEnd > 0 && e.Offset+uint64(e.Length) > dataEnd {
		return fmt.Errorf("object %s: extends past the data area", e.ID.Short())
	}
	return nil
}

// packWriter appends stored objects to a temporary pack file. Each object
// gets its place in the file (reserve) under the Writer's lock, and its
// bytes are written there after the lock is released: a large object
// straight from the caller's buffer with one pwrite, small ones gathered
// into a batch that is written once full. Putters on several cores then
// copy into the page cache at once, and no byte is copied twice. finish
// waits for every write before it writes the trailer.
type packWriter struct {
	f       *os.File
	off     uint64 // bytes reserved: header, objects
	entries []Entry

	batch    *[]byte // small objects not yet written, from batchOff on
	batchOff uint64

	writes   sync.WaitGroup // writes in flight
	errMu    sync.Mutex
	writeErr error // the first failed write

	kicked atomic.Uint64 // bytes handed to writeback so far (see kickWriteback)
}

const (
	// packDirectMin is the smallest object written on its own; smaller
	// ones are batched, so that 100,000 small files are not 100,000
	// write calls.
	packDirectMin = 32 << 10
	// packBatchSize is the size of a batch of small objects.
	packBatchSize = 1 << 20
)

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, packBatchSize); return &b }}

// packWrite is a write to do once the Writer's lock is released: data at
// offset off. A batch goes back to batchPool once written.
type packWrite struct {
	data  []byte
	off   uint64
	batch *[]byte
}

func newPackWriter(tmpDir string) (*packWriter, error) {
	f, err := os.CreateTemp(tmpDir, "pack-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create pack: %w", err)
	}
	p := &packWriter{f: f}
	p.reserve(nil, []byte(packHeader))
	return p, nil
}

// reserve gives b its place in the file and returns the writes to do
// (to ws) once the caller's lock is released; b must stay unchanged until
// then. The caller holds the Writer's lock (or owns p).
func (p *packWriter) reserve(ws []packWrite, b []byte) []packWrite {
	if len(b) >= packDirectMin {
		ws = p.takeBatch(ws)
		ws = append(ws, packWrite{data: b, off: p.off})
		p.writes.Add(1)
		p.off += uint64(len(b))
		return ws
	}
	if p.batch != nil && len(*p.batch)+len(b) > packBatchSize {
		ws = p.takeBatch(ws)
	}
	if p.batch == nil {
		p.batch = batchPool.Get().(*[]byte)
		*p.batch = (*p.batch)[:0]
		p.batchOff = p.off
	}
	*p.batch = append(*p.batch, b...)
	p.off += uint64(len(b))
	return ws
}

// takeBatch adds the batch of small objects, if any, to ws.
func (p *packWriter) takeBatch(ws []packWrite) []packWrite {
	if p.batch == nil {
		return ws
	}
	p.writes.Add(1)
	ws = append(ws, packWrite{data: *p.batch, off: p.batchOff, batch: p.batch})
	p.batch = nil
	return ws
}

// do performs writes returned by reserve, without the Writer's lock.
func (p *packWriter) do(ws []packWrite) error {
	var first error
	var end uint64
	for _, w := range ws {
		_, err := p.f.WriteAt(w.data, int64(w.off))
		end = max(end, w.off+uint64(len(w.data)))
		if w.batch != nil {
			*w.batch = (*w.batch)[:0]
			batchPool.Put(w.batch)
		}
		if err != nil {
			err = fmt.Errorf("write pack %s: %w", p.f.Name(), err)
			p.errMu.Lock()
			if p.writeErr == nil {
				p.writeErr = err
			}
			p.errMu.Unlock()
			if first == nil {
				first = err
			}
		}
	}
	if first == nil {
		p.kickWriteback(end) // before Done: finish may close the file after
	}
	for range ws {
		p.writes.Done()
	}
	return first
}

// kickWriteback starts the disk writing the pack up to end, once every
// kickEvery bytes, without waiting for it (Linux; nothing elsewhere): the
// fsync in finish then waits for the last few MiB only, not for the whole
// 32 MiB pack, and the disk works while dv hashes and compresses. Writes
// still in flight below end are only left for the fsync: this is a hint.
func (p *packWriter) kickWriteback(end uint64) {
	k := p.kicked.Load()
	if end < k+kickEvery || !p.kicked.CompareAndSwap(k, end) {
		return
	}
	startWriteback(p.f, int64(k), int64(end-k))
}

// kickEvery is how many bytes of a pack are written between two starts of
// the disk by kickWriteback.
const kickEvery = 8 << 20

// add appends one stored object; the writes are done at once (pack tests).
func (p *packWriter) add(id ID, t Type, comp uint8, stored []byte, rawLen int) error {
	ws := p.addEntry(nil, id, t, comp, stored, rawLen)
	return p.do(ws)
}

// addEntry records one stored object and reserves its place; see reserve.
func (p *packWriter) addEntry(ws []packWrite, id ID, t Type, comp uint8, stored []byte, rawLen int) []packWrite {
	e := Entry{ID: id, Type: t, Comp: comp, Offset: p.off, Length: uint32(len(stored)), RawLen: uint32(rawLen)}
	ws = p.reserve(ws, stored)
	p.entries = append(p.entries, e)
	return ws
}

func (p *packWriter) size() uint64 { return p.off }

// finish waits for the writes in flight, writes the trailer, syncs and
// closes the file, and moves it to dir/<id> (without syncing dir). It
// returns the pack id. No object may be reserved once finish has begun.
func (p *packWriter) finish(dir string) (ID, error) {
	trailer := make([]byte, 0, len(p.entries)*packEntrySize+12)
	for _, e := range p.entries {
		trailer = encodeEntry(trailer, e)
	}
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(p.entries)))
	trailer = append(trailer, packFooter...)
	id := ID(blake3.Sum256(trailer))
	ws := p.takeBatch(nil)
	ws = append(ws, packWrite{data: trailer, off: p.off})
	p.writes.Add(1)
	p.off += uint64(len(trailer))
	err := p.do(ws)
	p.writes.Wait()
	if err == nil {
		p.errMu.Lock()
		err = p.writeErr
		p.errMu.Unlock()
	}
	if err != nil {
		p.abort()
		return id, err
	}
	// The directory is synced once for all of a writer's packs, before
	// their index file is written (Writer.writeUnindexed).
	if err := commitFileNoDirSync(p.f, dir, id.String(), 0o444); err != nil {
		return id, err
	}
	return id, nil
}

// abort waits for the writes in flight and removes the file.
func (p *packWriter) abort() {
	p.writes.Wait()
	if p.batch != nil {
		batchPool.Put(p.batch)
		p.batch = nil
	}
	name := p.f.Name()
	_ = p.f.Close()
	_ = os.Remove(name)
}

// ReadPackEntries reads and checks the trailer of a pack of the given size.
func ReadPackEntries(r io.ReaderAt, size int64) ([]Entry, error) {
	tail := int64(4 + len(packFooter))
	if size < int64(len(packHeader))+tail {
		return nil, fmt.Errorf("pack too short (%d bytes)", size)
	}
	var hdr [len(packHeader)]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("read pack header: %w", err)
	}
	if string(hdr[:]) != packHeader {
		return nil, fmt.Errorf("not a dv pack (bad header)")
	}
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil {
		return nil, fmt.Errorf("read pack footer: %w", err)
	}
	if string(buf[4:]) != packFooter {
		return nil, fmt.Errorf("truncated pack (bad footer)")
	}
	n := binary.LittleEndian.Uint32(buf)
	if n > maxPackEntries || int64(n)*packEntrySize > size-tail-int64(len(packHeader)) {
		return nil, fmt.Errorf("pack trailer claims %d entries, more than fit", n)
	}
	tstart := size - tail - int64(n)*packEntrySize
	tb := make([]byte, int64(n)*packEntrySize)
	if _, err := r.ReadAt(tb, tstart); err != nil {
		return nil, fmt.Errorf("read pack trailer: %w", err)
	}
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = decodeEntry(tb[i*packEntrySize:])
		if err := entries[i].check(uint64(tstart)); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// PackID returns the name a pack's content should have: the BLAKE3-256 of
// its trailer. Each object's bytes are checked against its id separately.
func PackID(pack []byte) (ID, error) {
	tail := len(packFooter) + 4
	if len(pack) < len(packHeader)+tail || string(pack[len(pack)-len(packFooter):]) != packFooter {
		return ID{}, fmt.Errorf("truncated pack (bad footer)")
	}
	n := uint64(binary.LittleEndian.Uint32(pack[len(pack)-tail:]))
	size := n*packEntrySize + uint64(tail)
	if size > uint64(len(pack)-len(packHeader)) {
		return ID{}, fmt.Errorf("pack trailer claims %d entries, more than fit", n)
	}
	return ID(blake3.Sum256(pack[uint64(len(pack))-size:])), nil
}

// VerifyPack checks a whole pack held in memory against its name id: the
// trailer must hash to id and parse, and every object it lists must decode
// to its id. It returns the pack's entries, or a *CorruptError naming the
// first damaged object (or the pack, when the trailer is at fault). The
// pack's bytes are read once, object by object, as they lie in the file.
func VerifyPack(pack []byte, id ID) ([]Entry, error) {
	if got, err := PackID(pack); err != nil {
		return nil, &CorruptError{What: "pack", Name: id.String(), Reason: err.Error(), Err: err}
	} else if got != id {
		return nil, corrupt("pack", id.String(), "trailer does not match its name")
	}
	entries, err := ReadPackEntries(bytes.NewReader(pack), int64(len(pack)))
	if err != nil {
		return nil, &CorruptError{What: "pack", Name: id.String(), Reason: err.Error(), Err: err}
	}
	for _, e := range entries {
		stored := pack[e.Offset : e.Offset+uint64(e.Length)]
		if err := VerifyStored(e, stored); err != nil {
			return nil, &CorruptError{What: "object", Name: e.ID.String(), Reason: fmt.Sprintf("in pack %s: %v", id.Short(), err), Err: err}
		}
	}
	return entries, nil
}
