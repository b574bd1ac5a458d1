package objects

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

type tstObject struct {
	typ  Type
	data []byte
}

func tstObjects() []tstObject {
	return []tstObject{
		{TypeBlob, nil},
		{TypeBlob, []byte("hello")},
		{TypeBlob, tstRand(10, 40<<10)},
		{TypeBlob, bytes.Repeat([]byte("compress me "), 4000)},
		{TypeList, EncodeList([]ChunkRef{{ID: Hash(TypeBlob, []byte("c")), Size: 1}})},
		{TypeTree, []byte(`{"version":1,"entries":[]}` + "\n")},
		{TypeRecord, []byte(`{"kind":"run"}`)},
	}
}

// tstWritePack writes objs into one pack with packWriter and returns the
// pack's bytes, its id and the entries the writer recorded.
func tstWritePack(t testing.TB, objs []tstObject) ([]byte, ID, []Entry) {
	t.Helper()
	dir := t.TempDir()
	p, err := newPackWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		stored, comp, err := compress(nil, o.data)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.add(Hash(o.typ, o.data), o.typ, comp, stored, len(o.data)); err != nil {
			t.Fatal(err)
		}
	}
	id, err := p.finish(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, id.String()))
	if err != nil {
		t.Fatal(err)
	}
	return b, id, p.entries
}

func TestPackRoundTrip(t *testing.T) {
	t.Parallel()
	objs := tstObjects()
	b, id, written := tstWritePack(t, objs)
	if !bytes.HasPrefix(b, []byte(packHeader)) || !bytes.HasSuffix(b, []byte(packFooter)) {
		t.Fatal("pack lacks its header or footer")
	}
	if got, err := PackID(b); err != nil || got != id {
		t.Fatalf("pack named %s, its trailer hashes to %s (%v)", id, got, err)
	}
	got, err := ReadPackEntries(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, written) {
		t.Fatalf("entries read back differ:\n got %+v\nwant %+v", got, written)
	}
	if len(got) != len(objs) {
		t.Fatalf("%d entries, want %d", len(got), len(objs))
	}
	sawZstd := false
	for i, e := range got {
		if e.ID != Hash(objs[i].typ, objs[i].data) || e.Type != objs[i].typ {
			t.Errorf("entry %d: id or type wrong", i)
		}
		sawZstd = sawZstd || e.Comp == compZstd
		if err := verifyEntry(b, e); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		data, err := decompress(e.Comp, b[e.Offset:e.Offset+uint64(e.Length)], int(e.RawLen))
		if err != nil || !bytes.Equal(data, objs[i].data) {
			t.Errorf("entry %d: data differs (%v)", i, err)
		}
	}
	if !sawZstd {
		t.Error("no object was compressed")
	}
}

func TestPackEmpty(t *testing.T) {
	t.Parallel()
	b, _, _ := tstWritePack(t, nil)
	got, err := ReadPackEntries(bytes.NewReader(b), int64(len(b)))
	if err != nil || len(got) != 0 {
		t.Fatalf("empty pack: %v, %v", got, err)
	}
}

// tstSetEntry overwrites entry i of the pack's trailer with e.
func tstSetEntry(b []byte, n, i int, e Entry) {
	start := len(b) - 12 - (n-i)*packEntrySize
	copy(b[start:], encodeEntry(nil, e))
}

func TestReadPackEntriesHostile(t *testing.T) {
	t.Parallel()
	good, _, entries := tstWritePack(t, tstObjects())
	n := len(entries)
	tstart := uint64(len(good) - 12 - n*packEntrySize)
	mutate := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		fn(b)
		return b
	}
	withEntry := func(i int, fn func(e *Entry)) []byte {
		return mutate(func(b []byte) {
			e := entries[i]
			fn(&e)
			tstSetEntry(b, n, i, e)
		})
	}
	withCount := func(c uint32) []byte {
		return mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[len(b)-12:], c) })
	}
	tests := []struct {
		name string
		b    []byte
		size int64 // 0: len(b)
	}{
		{"empty", nil, 0},
		{"header only", []byte(packHeader), 0},
		{"header and footer, no count", []byte(packHeader + packFooter), 0},
		{"bad header", mutate(func(b []byte) { b[0] = 'X' }), 0},
		{"bad footer", mutate(func(b []byte) { b[len(b)-1] = 'X' }), 0},
		{"truncated by one byte", good[:len(good)-1], 0},
		{"count 2^32-1", withCount(0xffffffff), 0},
		{"count over the limit", withCount(maxPackEntries + 1), 0},
		{"count more than fit", withCount(uint32(len(good))), 0},
		{"size larger than the data", good, int64(len(good)) + 100},
		{"size far past the data", good, 1 << 50},
		{"negative size", good, -1},
		{"offset past the data", withEntry(1, func(e *Entry) { e.Offset = tstart }), 0},
		{"offset in the trailer", withEntry(1, func(e *Entry) { e.Offset = tstart + 1; e.Length, e.RawLen = 1, 1; e.Comp = compRaw }), 0},
		{"offset huge", withEntry(1, func(e *Entry) { e.Offset = 1 << 62 }), 0},
		{"offset max", withEntry(1, func(e *Entry) { e.Offset = ^uint64(0) }), 0},
		{"offset inside the header", withEntry(1, func(e *Entry) { e.Offset = 3 }), 0},
		{"length past the data", withEntry(2, func(e *Entry) { e.Length = 1 << 31 }), 0},
		{"length max", withEntry(3, func(e *Entry) { e.Length = ^uint32(0) }), 0},
		{"unknown type", withEntry(1, func(e *Entry) { e.Type = 'x' }), 0},
		{"zero type", withEntry(1, func(e *Entry) { e.Type = 0 }), 0},
		{"unknown compression", withEntry(1, func(e *Entry) { e.Comp = 9 }), 0},
		{"raw length differs", withEntry(1, func(e *Entry) { e.RawLen++ }), 0},
		{"blob over ChunkMax", withEntry(3, func(e *Entry) { e.RawLen = ChunkMax + 1 }), 0},
		{"tree over MaxObjectSize", withEntry(5, func(e *Entry) { e.Comp = compZstd; e.RawLen = MaxObjectSize + 1 }), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			size := tc.size
			if size == 0 {
				size = int64(len(tc.b))
			}
			got, err := ReadPackEntries(bytes.NewReader(tc.b), size)
			if err == nil {
				t.Fatalf("accepted a hostile pack: %d entries", len(got))
			}
		})
	}
}

func TestReadPackEntriesEveryTruncation(t *testing.T) {
	t.Parallel()
	good, _, _ := tstWritePack(t, tstObjects()[:3])
	for i := 0; i < len(good); i++ {
		if _, err := ReadPackEntries(bytes.NewReader(good[:i]), int64(i)); err == nil {
			t.Fatalf("pack cut to %d of %d bytes accepted", i, len(good))
		}
	}
}

func TestReadPackEntriesBitFlips(t *testing.T) {
	t.Parallel()
	// Flipping any byte of the trailer must give an error or entries that
	// still pass their checks, never a panic or an entry pointing outside
	// the data area.
	good, _, entries := tstWritePack(t, tstObjects())
	start := len(good) - 12 - len(entries)*packEntrySize
	for i := start; i < len(good); i++ {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), good...)
			b[i] ^= x
			got, err := ReadPackEntries(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				continue
			}
			tstart := uint64(len(b) - 12 - len(got)*packEntrySize)
			for _, e := range got {
				if e.Offset < uint64(len(packHeader)) || e.Offset+uint64(e.Length) > tstart {
					t.Fatalf("flip at %d: entry %+v outside the data area", i, e)
				}
			}
		}
	}
}

// FuzzReadPackEntries reads arbitrary bytes as a pack. It must not panic;
// accepted entries must lie inside the data area and pass their own checks.
func FuzzReadPackEntries(f *testing.F) {
	objs := tstObjects()
	for _, set := range [][]tstObject{nil, objs[:1], objs[1:2], objs[4:7]} {
		b, _, _ := tstWritePack(f, set)
		f.Add(b)
	}
	f.Add([]byte(packHeader + "\x00\x00\x00\x00" + packFooter))
	f.Add([]byte(packHeader + "\xff\xff\xff\xff" + packFooter))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ReadPackEntries(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		tstart := uint64(len(b) - 12 - len(entries)*packEntrySize)
		for _, e := range entries {
			if err := e.check(tstart); err != nil {
				t.Fatalf("accepted entry fails its check: %v", err)
			}
			if e.Offset+uint64(e.Length) > tstart {
				t.Fatalf("entry %+v extends past the data area ending at %d", e, tstart)
			}
			// Reading what the entry names must be safe too (bounded, since
			// decompress preallocates the declared size).
			if e.RawLen <= 1<<20 {
				_ = verifyEntry(b, e)
			}
		}
		// The trailer re-encodes to the same bytes.
		var tr []byte
		for _, e := range entries {
			tr = encodeEntry(tr, e)
		}
		if !bytes.Equal(tr, b[tstart:len(b)-12]) {
			t.Fatal("entries do not re-encode to the trailer they came from")
		}
	})
}

// TestWriterConcurrentPacks puts objects of every size class (batched
// small ones, large ones written on their own, compressible and not) from
// several goroutines into one Writer, through more than two full packs:
// every object must come back, every pack verify, nothing be left in tmp.
func TestWriterConcurrentPacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	w := s.NewWriter()
	base := tstRand(77, 1<<20)
	const goroutines = 4
	perG := (5 * PackTargetSize / 2) / goroutines / (60 << 10) // objects average about 70 KiB
	object := func(g, i int) []byte {
		n := []int{1, 100, packDirectMin - 1, packDirectMin, packDirectMin + 1, ChunkMax / 2, ChunkMax}[i%7]
		if i%7 >= 5 {
			n = ChunkMax/2 + (g*perG+i)*977%(ChunkMax/2)
		}
		b := make([]byte, n)
		off := (g*perG + i) * 4099 % (len(base) - ChunkMax)
		copy(b, base[off:])
		if i%11 == 3 {
			copy(b, bytes.Repeat([]byte("compressible "), n/13)) // stored as zstd
		}
		if len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, uint64(g*perG+i))
		}
		return b
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				if _, err := w.Put(ctx, TypeBlob, object(g, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Packs < 3 {
		t.Fatalf("stats %+v: want at least 3 packs", st)
	}
	if n := len(tstFiles(t, dir, TmpDir)); n != 0 {
		t.Fatalf("%d temporary files left", n)
	}
	for _, name := range tstFiles(t, dir, PacksDir) {
		b, err := os.ReadFile(filepath.Join(dir, PacksDir, name))
		if err != nil {
			t.Fatal(err)
		}
		id, err := ParseID(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyPack(b, id); err != nil {
			t.Fatalf("pack %s: %v", name, err)
		}
	}
	fresh := tstReopen(t, dir)
	for g := range goroutines {
		for i := range perG {
			b := object(g, i)
			tstLoad(t, fresh, Hash(TypeBlob, b), TypeBlob, b)
		}
	}
	tstMustCheckClean(t, fresh)
}

// TestPackWriteError checks that a failed write fails the put and the
// pack, and leaves no file behind.
func TestPackWriteError(t *testing.T) {
	dir := t.TempDir()
	p, err := newPackWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.f.Close() // every write now fails
	big := tstRand(5, packDirectMin)
	if err := p.add(Hash(TypeBlob, big), TypeBlob, compRaw, big, len(big)); err == nil {
		t.Fatal("add to a closed pack file succeeded")
	}
	if _, err := p.finish(dir); err == nil {
		t.Fatal("finish after a failed write succeeded")
	}
	if n := len(tstFiles(t, dir, ".")); n != 0 {
		t.Fatalf("%d files left", n)
	}
}
