package objects

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func tstIndexPacks(t testing.TB) []PackIndex {
	t.Helper()
	_, p1, e1 := tstWritePack(t, tstObjects()[:3])
	_, p2, e2 := tstWritePack(t, tstObjects()[3:])
	return []PackIndex{{Pack: p1, Entries: e1}, {Pack: p2, Entries: e2}, {Pack: Hash(TypeBlob, []byte("empty pack")), Entries: []Entry{}}}
}

func tstSameIndex(t *testing.T, got, want []PackIndex) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d packs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Pack != want[i].Pack || len(got[i].Entries) != len(want[i].Entries) {
			t.Fatalf("pack %d: got %s with %d entries, want %s with %d", i, got[i].Pack.Short(), len(got[i].Entries), want[i].Pack.Short(), len(want[i].Entries))
		}
		for j := range want[i].Entries {
			if got[i].Entries[j] != want[i].Entries[j] {
				t.Fatalf("pack %d entry %d: got %+v, want %+v", i, j, got[i].Entries[j], want[i].Entries[j])
			}
		}
	}
}

func TestIndexRoundTrip(t *testing.T) {
	t.Parallel()
	all := tstIndexPacks(t)
	tests := []struct {
		name  string
		packs []PackIndex
	}{
		{"no packs", nil},
		{"one pack", all[:1]},
		{"empty pack", all[2:]},
		{"three packs", all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, name := EncodeIndex(tc.packs)
			if name != fileName(b) {
				t.Fatalf("name %s, content hashes to %s", name, fileName(b))
			}
			if _, err := ParseID(name); err != nil {
				t.Fatalf("name %q is not an id: %v", name, err)
			}
			got, err := DecodeIndex(b)
			if err != nil {
				t.Fatal(err)
			}
			tstSameIndex(t, got, tc.packs)
			b2, name2 := EncodeIndex(got)
			if !bytes.Equal(b, b2) || name != name2 {
				t.Fatal("re-encoding differs")
			}
		})
	}
}

func TestDecodeIndexHostile(t *testing.T) {
	t.Parallel()
	packs := tstIndexPacks(t)[:1]
	good, _ := EncodeIndex(packs)
	n := len(packs[0].Entries)
	entryAt := func(i int) int { return len(indexHeader) + IDSize + 4 + i*packEntrySize }
	mutate := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		fn(b)
		return b
	}
	withEntry := func(i int, fn func(e *Entry)) []byte {
		return mutate(func(b []byte) {
			e := packs[0].Entries[i]
			fn(&e)
			copy(b[entryAt(i):], encodeEntry(nil, e))
		})
	}
	withCount := func(c uint32) []byte {
		return mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[len(indexHeader)+IDSize:], c) })
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", []byte("DVINDEX")},
		{"bad header", mutate(func(b []byte) { b[2] = 'x' })},
		{"pack id cut short", good[:len(indexHeader)+10]},
		{"count cut short", good[:len(indexHeader)+IDSize+2]},
		{"entry cut short", good[:len(good)-1]},
		{"count 2^32-1", withCount(0xffffffff)},
		{"count one more", withCount(uint32(n + 1))},
		{"trailing bytes", append(append([]byte(nil), good...), 1, 2, 3)},
		{"unknown type", withEntry(0, func(e *Entry) { e.Type = 'z' })},
		{"unknown compression", withEntry(0, func(e *Entry) { e.Comp = 2 })},
		{"offset in the header", withEntry(1, func(e *Entry) { e.Offset = 0 })},
		{"offset huge", withEntry(1, func(e *Entry) { e.Offset = 1 << 41 })},
		{"raw length mismatch", withEntry(1, func(e *Entry) { e.Comp = compRaw; e.Length = e.RawLen + 1 })},
		{"blob too large", withEntry(2, func(e *Entry) { e.Comp = compZstd; e.RawLen = ChunkMax + 1 })},
		// Load allocates the stored length before reading: it must be
		// bounded like the decoded size.
		{"zstd stored length 4 GiB", withEntry(2, func(e *Entry) { e.Comp = compZstd; e.Length = ^uint32(0) })},
		{"zstd blob stored length over ChunkMax", withEntry(2, func(e *Entry) { e.Comp = compZstd; e.Length = ChunkMax + 1 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := DecodeIndex(tc.b); err == nil {
				t.Fatalf("accepted a hostile index: %d packs", len(got))
			}
		})
	}
}

// FuzzDecodeIndex decodes arbitrary bytes as an index. It must not panic,
// and an index it accepts re-encodes to exactly the same bytes.
func FuzzDecodeIndex(f *testing.F) {
	packs := tstIndexPacks(f)
	for _, ps := range [][]PackIndex{nil, packs[:1], packs[2:], packs} {
		b, _ := EncodeIndex(ps)
		f.Add(b)
	}
	f.Add([]byte(indexHeader + "short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		packs, err := DecodeIndex(b)
		if err != nil {
			return
		}
		for _, p := range packs {
			for _, e := range p.Entries {
				if err := e.check(0); err != nil {
					t.Fatalf("accepted entry fails its check: %v", err)
				}
			}
		}
		again, _ := EncodeIndex(packs)
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
	})
}
