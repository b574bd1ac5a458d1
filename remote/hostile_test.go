package remote_test

// Hostile remotes: a remote (here the memory one) whose packs, index files
// and refs were written by an attacker rather than by dv. Every object
// must be refused unless its bytes hash to its id, every claimed size must
// be checked before anything is allocated for it, decompression bombs must
// stop at the recorded size, and nothing refused may reach the local store.
//
// The memory figures are the bytes the whole test process allocates
// (runtime.MemStats.TotalAlloc) while dv refuses the input; these tests
// are not parallel, so nothing else allocates meanwhile.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/mem"
)

// hostileAllocLimit is the most a refusal may allocate.
const hostileAllocLimit = 64 << 20

// compZstd is the stored form "one zstd frame" (docs/FORMATS.md).
const compZstd = 1

// hostileObj is one object to place in a crafted pack: the entry's id,
// type, compression and decoded length are whatever the attacker claims.
type hostileObj struct {
	id     objects.ID
	typ    objects.Type
	comp   uint8
	rawLen uint32
	stored []byte
}

// rawObj is an honest object stored raw.
func rawObj(t objects.Type, data []byte) hostileObj {
	return hostileObj{id: objects.Hash(t, data), typ: t, rawLen: uint32(len(data)), stored: data}
}

// hostilePack builds a pack of objs, puts it on rem and returns its index
// entries (not uploaded).
func hostilePack(t *testing.T, rem remote.Store, objs ...hostileObj) objects.PackIndex {
	t.Helper()
	b := objects.NewPackBuilder()
	for _, o := range objs {
		b.Add(objects.Entry{ID: o.id, Type: o.typ, Comp: o.comp, RawLen: o.rawLen}, o.stored)
	}
	data, pi := b.Finish()
	if err := rem.Put(context.Background(), remote.PacksPrefix+pi.Pack.String(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	return pi
}

// putIndexBytes stores b as an index file named by its content and returns
// the name.
func putIndexBytes(t *testing.T, rem remote.Store, b []byte) string {
	t.Helper()
	sum := blake3.Sum256(b)
	name := objects.ID(sum).String()
	if err := rem.Put(context.Background(), remote.IndexPrefix+name, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	return name
}

func putIndex(t *testing.T, rem remote.Store, packs ...objects.PackIndex) string {
	t.Helper()
	b, _ := objects.EncodeIndex(packs)
	return putIndexBytes(t, rem, b)
}

// encodeEntry writes one index entry as docs/FORMATS.md lays it out, so a
// test can claim values objects.EncodeIndex would refuse to round-trip.
func encodeEntry(b []byte, e objects.Entry) []byte {
	b = append(b, e.ID[:]...)
	b = append(b, byte(e.Type), e.Comp)
	b = binary.LittleEndian.AppendUint64(b, e.Offset)
	b = binary.LittleEndian.AppendUint32(b, e.Length)
	return binary.LittleEndian.AppendUint32(b, e.RawLen)
}

// allocated runs fn and returns what the process allocated meanwhile.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// zstdBomb returns one zstd frame of RLE blocks that decodes to n zero
// bytes (a multiple of 128 KiB): four stored bytes per 128 KiB. With
// declare, the frame states its content size (single segment, so its
// window is the whole content); without, its window is 128 KiB and
// nothing says how long it is until it has been decoded.
func zstdBomb(n int, declare bool) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd}
	if declare {
		b = append(b, 0xe0) // 8-byte content size, single segment
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	} else {
		b = append(b, 0x00, (17-10)<<3) // no content size; window 2^17
	}
	const block = 128 << 10
	for left := n; left > 0; left -= block {
		h := uint32(block)<<3 | 1<<1 // an RLE block of 128 KiB
		if left <= block {
			h |= 1 // the last
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return b
}

// requireClean fails unless the local store holds nothing and is sound:
// no pack, no index file, no temporary file, no object.
func requireClean(t *testing.T, s *objects.Store) {
	t.Helper()
	for _, d := range []string{objects.PacksDir, objects.IndexDir, objects.TmpDir} {
		ents, err := os.ReadDir(filepath.Join(s.Dir(), d))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) > 0 {
			t.Errorf("the local store's %s holds %d files after a refusal", d, len(ents))
		}
	}
	if n := s.Count(); n != 0 {
		t.Errorf("the local store holds %d objects after a refusal", n)
	}
	if _, err := s.Check(t.Context(), func(ce *objects.CorruptError) { t.Errorf("local store damaged: %v", ce) }); err != nil {
		t.Fatal(err)
	}
}

// freshFetch fetches roots from rem into an empty local store and returns
// what the fetch allocated and its error; the store must stay empty.
func freshFetch(t *testing.T, rem remote.Store, roots ...objects.ID) (uint64, error) {
	t.Helper()
	s := newStore(t)
	sy := &remote.Syncer{Local: s, Remote: rem, CacheDir: t.TempDir(), Jobs: 4, Greedy: true}
	var err error
	n := allocated(func() { _, err = sy.Fetch(t.Context(), roots) })
	requireClean(t, s)
	return n, err
}

// requireCorrupt fails unless err is an integrity error (dv's exit 3)
// whose text holds each of want.
func requireCorrupt(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("got %v, want an integrity error", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not name %q", err, w)
		}
	}
}

// TestHostileObjectsNotMatchingIDs: objects whose stored bytes do not hash
// to the id the index gives them, in every disguise (other bytes, other
// type, compressed, behind a sound tree), are refused by name, and nothing
// of the fetch is stored, not even the sound tree above them.
func TestHostileObjectsNotMatchingIDs(t *testing.T) {
	good := []byte("the real content, 34 bytes long..")
	evil := []byte("an attacker's content of 34 bytes!")
	goodID := objects.Hash(objects.TypeBlob, good)
	treeOf := func(id objects.ID, size int) []byte {
		tr := &objects.Tree{Entries: []objects.TreeEntry{{Name: "a.txt", Type: objects.EntryFile, Size: int64(size), ID: id}}}
		b, err := tr.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	zgood := zstdEncode(t, bytes.Repeat(evil, 100))

	cases := []struct {
		name string
		objs func() ([]hostileObj, objects.ID, objects.ID) // objects, root, the bad one
	}{
		{"other bytes", func() ([]hostileObj, objects.ID, objects.ID) {
			return []hostileObj{{id: goodID, typ: objects.TypeBlob, rawLen: uint32(len(evil)), stored: evil}}, goodID, goodID
		}},
		{"one bit flipped", func() ([]hostileObj, objects.ID, objects.ID) {
			b := slices.Clone(good)
			b[7] ^= 1
			return []hostileObj{{id: goodID, typ: objects.TypeBlob, rawLen: uint32(len(b)), stored: b}}, goodID, goodID
		}},
		{"the right bytes as another type", func() ([]hostileObj, objects.ID, objects.ID) {
			id := objects.Hash(objects.TypeTree, good) // bytes hashed as a tree, served as a blob
			return []hostileObj{{id: id, typ: objects.TypeBlob, rawLen: uint32(len(good)), stored: good}}, id, id
		}},
		{"compressed other bytes", func() ([]hostileObj, objects.ID, objects.ID) {
			return []hostileObj{{id: goodID, typ: objects.TypeBlob, comp: compZstd, rawLen: 3400, stored: zgood}}, goodID, goodID
		}},
		{"behind a sound tree", func() ([]hostileObj, objects.ID, objects.ID) {
			tb := treeOf(goodID, len(good))
			tr := rawObj(objects.TypeTree, tb)
			return []hostileObj{tr, {id: goodID, typ: objects.TypeBlob, rawLen: uint32(len(evil)), stored: evil}}, tr.id, goodID
		}},
		{"a tree that is not what its id says", func() ([]hostileObj, objects.ID, objects.ID) {
			real := treeOf(goodID, len(good))
			fake := treeOf(objects.Hash(objects.TypeBlob, evil), len(evil))
			id := objects.Hash(objects.TypeTree, real)
			return []hostileObj{{id: id, typ: objects.TypeTree, rawLen: uint32(len(fake)), stored: fake}, rawObj(objects.TypeBlob, evil)}, id, id
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rem := mem.New()
			objs, root, bad := c.objs()
			pi := hostilePack(t, rem, objs...)
			putIndex(t, rem, pi)
			n, err := freshFetch(t, rem, root)
			requireCorrupt(t, err, "remote object "+bad.String(), "content does not match its id", "refused")
			t.Logf("%s: refused, %d KiB allocated: %v", c.name, n>>10, err)
		})
	}
}

// TestHostileIndexClaims: index entries claiming enormous sizes, offsets
// far past the pack, or counts of 2^31 entries are refused before dv
// allocates for them: the whole refusal allocates under 64 MiB.
func TestHostileIndexClaims(t *testing.T) {
	blob := bytes.Repeat([]byte("hostile "), 512) // 4 KiB
	blobID := objects.Hash(objects.TypeBlob, blob)
	tree := []byte(`{"version":1,"entries":[]}` + "\n")

	type claim struct {
		name  string
		entry func(e objects.Entry) objects.Entry // changes the honest entry
		want  string                              // in the error
	}
	claims := []claim{
		{"blob RawLen 4 GiB", func(e objects.Entry) objects.Entry { e.RawLen = 1<<32 - 1; e.Comp = compZstd; return e }, "over the limit"},
		{"blob Length 4 GiB", func(e objects.Entry) objects.Entry { e.Length = 1<<32 - 1; e.Comp = compZstd; return e }, "over the limit"},
		{"raw blob of 4 GiB", func(e objects.Entry) objects.Entry { e.Length, e.RawLen = 1<<32-1, 1<<32-1; return e }, "over the limit"},
		{"blob just over ChunkMax", func(e objects.Entry) objects.Entry {
			e.Length, e.RawLen = objects.ChunkMax+1, objects.ChunkMax+1
			return e
		}, "over the limit"},
		{"offset 2^63", func(e objects.Entry) objects.Entry { e.Offset = 1 << 63; return e }, "out of range"},
		{"offset 2^40+1", func(e objects.Entry) objects.Entry { e.Offset = 1<<40 + 1; return e }, "out of range"},
		{"offset inside the header", func(e objects.Entry) objects.Entry { e.Offset = 0; return e }, "out of range"},
		{"unknown type", func(e objects.Entry) objects.Entry { e.Type = 'x'; return e }, "unknown type"},
		{"unknown compression", func(e objects.Entry) objects.Entry { e.Comp = 9; return e }, "unknown compression"},
	}
	for _, c := range claims {
		t.Run(c.name, func(t *testing.T) {
			rem := mem.New()
			pi := hostilePack(t, rem, rawObj(objects.TypeBlob, blob))
			b := []byte("DVINDEX1")
			b = append(b, pi.Pack[:]...)
			b = binary.LittleEndian.AppendUint32(b, 1)
			b = encodeEntry(b, c.entry(pi.Entries[0]))
			name := putIndexBytes(t, rem, b)
			n, err := freshFetch(t, rem, blobID)
			requireCorrupt(t, err, "remote index "+name, c.want)
			if n > hostileAllocLimit {
				t.Errorf("refusing %s allocated %d MiB", c.name, n>>20)
			}
			t.Logf("%s: refused, %d KiB allocated: %v", c.name, n>>10, err)
		})
	}

	// Counts: the index says a pack has 2^31 (or 2^32-1) entries and
	// ends after a few; a list says it has 2^31 chunks.
	for _, count := range []uint32{1 << 31, 1<<32 - 1, 1 << 20} {
		t.Run(fmt.Sprintf("index count %d", count), func(t *testing.T) {
			rem := mem.New()
			pi := hostilePack(t, rem, rawObj(objects.TypeBlob, blob))
			b := []byte("DVINDEX1")
			b = append(b, pi.Pack[:]...)
			b = binary.LittleEndian.AppendUint32(b, count)
			for range 3 {
				b = encodeEntry(b, pi.Entries[0])
			}
			name := putIndexBytes(t, rem, b)
			n, err := freshFetch(t, rem, blobID)
			requireCorrupt(t, err, "remote index "+name, fmt.Sprintf("claims %d entries", count))
			if n > hostileAllocLimit {
				t.Errorf("refusing a count of %d allocated %d MiB", count, n>>20)
			}
			t.Logf("count %d: refused, %d KiB allocated: %v", count, n>>10, err)
		})
	}
	t.Run("list of 2^31 chunks", func(t *testing.T) {
		rem := mem.New()
		list := []byte("DVLIST1\n")
		list = binary.LittleEndian.AppendUint32(list, 1<<31)
		list = append(list, blobID[:]...)
		list = binary.LittleEndian.AppendUint32(list, uint32(len(blob)))
		lo := rawObj(objects.TypeList, list)
		putIndex(t, rem, hostilePack(t, rem, lo, rawObj(objects.TypeBlob, blob)))
		n, err := freshFetch(t, rem, lo.id)
		requireCorrupt(t, err, "list "+lo.id.String(), "entries do not fit")
		if n > hostileAllocLimit {
			t.Errorf("refusing a list of 2^31 chunks allocated %d MiB", n>>20)
		}
		t.Logf("list count 2^31: refused, %d KiB allocated: %v", n>>10, err)
	})

	// Offsets past the end of the pack, within the format's limits: the
	// index is well formed, the pack cannot hold what it names. The read
	// fails (today as a read error, exit 1, not an integrity error), and
	// dv must not allocate the claimed length (up to 256 MiB for a tree)
	// before the pack has shown it holds it: ReadRange starts at 16 MiB.
	for _, c := range []struct {
		name string
		obj  hostileObj
		edit func(e objects.Entry) objects.Entry
	}{
		{"blob 1 GiB past the end", rawObj(objects.TypeBlob, blob), func(e objects.Entry) objects.Entry { e.Offset += 1 << 30; return e }},
		{"blob 2^40 past the start", rawObj(objects.TypeBlob, blob), func(e objects.Entry) objects.Entry { e.Offset = 1 << 40; return e }},
		{"blob overlapping the end", rawObj(objects.TypeBlob, blob), func(e objects.Entry) objects.Entry { e.Offset += 100; return e }},
		{"tree of 256 MiB past the end", rawObj(objects.TypeTree, tree), func(e objects.Entry) objects.Entry {
			e.Offset += 1 << 30
			e.Comp, e.Length, e.RawLen = compZstd, objects.MaxObjectSize, objects.MaxObjectSize
			return e
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rem := mem.New()
			pi := hostilePack(t, rem, c.obj)
			pi.Entries[0] = c.edit(pi.Entries[0])
			putIndex(t, rem, pi)
			n, err := freshFetch(t, rem, c.obj.id)
			if err == nil {
				t.Fatal("a fetch from past the end of a pack succeeded")
			}
			if n > hostileAllocLimit {
				t.Errorf("refusing %s allocated %d MiB", c.name, n>>20)
			}
			t.Logf("%s: refused (integrity error: %v), %d KiB allocated: %v", c.name, errors.Is(err, objects.ErrCorrupt), n>>10, err)
		})
	}

	// A range as long as claimed, and honest, still reads whole.
	t.Run("honest range of 40 MiB", func(t *testing.T) {
		rem := mem.New()
		data := make([]byte, 40<<20+12345)
		for i := range data {
			data[i] = byte(i * 7)
		}
		if err := rem.Put(t.Context(), "packs/x", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		got, err := remote.ReadRange(t.Context(), rem, "packs/x", 5, int64(len(data)-5))
		if err != nil || !bytes.Equal(got, data[5:]) {
			t.Fatalf("ReadRange of 40 MiB: %v (%d bytes)", err, len(got))
		}
		if _, err := remote.ReadRange(t.Context(), rem, "packs/x", 5, int64(len(data))); err == nil {
			t.Fatal("ReadRange past the end succeeded")
		}
	})
}

// TestHostileDecompressionBombs: a pack holding a zstd frame that expands
// to 1 GiB, recorded as 100 bytes or as ChunkMax (as a blob, a tree or a
// list), with its content size declared in the frame or not, is refused
// quickly and without decoding it: each refusal allocates under 64 MiB.
// dv fsck -r (Syncer.Check) refuses it the same way.
func TestHostileDecompressionBombs(t *testing.T) {
	const gib = 1 << 30
	// The format lets trees, lists and records be 256 MiB: a bomb recorded
	// at that size costs what such an object may cost, and is refused.
	t.Run("tree recorded at the limit", func(t *testing.T) {
		rem := mem.New()
		id := objects.Hash(objects.TypeTree, nil)
		pi := hostilePack(t, rem, hostileObj{id: id, typ: objects.TypeTree, comp: compZstd, rawLen: objects.MaxObjectSize, stored: zstdBomb(gib, false)})
		putIndex(t, rem, pi)
		start := time.Now()
		n, err := freshFetch(t, rem, id)
		requireCorrupt(t, err, "remote object "+id.String())
		t.Logf("1 GiB frame as a tree of 256 MiB: refused in %v, %d MiB allocated (the format's limit for a tree): %v",
			time.Since(start).Round(time.Millisecond), n>>20, err)
		// Today 576 MiB: the 256 MiB buffer, then zstd's DecodeAll grows
		// it (append) for the block that overflows. A ceiling, so that
		// it cannot get worse unnoticed.
		if n > 5*objects.MaxObjectSize/2 {
			t.Errorf("refusing it allocated %d MiB, more than 2.5 times the limit", n>>20)
		}
	})
	for _, declare := range []bool{false, true} {
		bomb := zstdBomb(gib, declare)
		for _, c := range []struct {
			typ    objects.Type
			rawLen uint32
		}{
			{objects.TypeBlob, 100}, {objects.TypeBlob, objects.ChunkMax},
			{objects.TypeTree, 100}, {objects.TypeList, objects.ChunkMax},
		} {
			name := fmt.Sprintf("%s recorded as %d bytes, size declared %v", c.typ, c.rawLen, declare)
			t.Run(name, func(t *testing.T) {
				rem := mem.New()
				id := objects.Hash(c.typ, make([]byte, c.rawLen)) // what the bomb would be, cut short
				pi := hostilePack(t, rem, hostileObj{id: id, typ: c.typ, comp: compZstd, rawLen: c.rawLen, stored: bomb})
				putIndex(t, rem, pi)
				start := time.Now()
				n, err := freshFetch(t, rem, id)
				took := time.Since(start)
				requireCorrupt(t, err, "remote object "+id.String())
				if n > hostileAllocLimit {
					t.Errorf("refusing the bomb allocated %d MiB", n>>20)
				}
				if took > 5*time.Second {
					t.Errorf("refusing the bomb took %v", took)
				}
				t.Logf("%d-byte frame of 1 GiB as a %s of %d bytes: refused in %v, %d KiB allocated: %v",
					len(bomb), c.typ, c.rawLen, took.Round(time.Millisecond), n>>10, err)

				var problems []string
				s := newStore(t)
				sy := &remote.Syncer{Local: s, Remote: rem, CacheDir: t.TempDir(), Jobs: 4}
				n = allocated(func() {
					_, err = sy.Check(t.Context(), func(ce *objects.CorruptError) { problems = append(problems, ce.Error()) })
				})
				if err != nil || len(problems) != 1 || !strings.Contains(problems[0], id.String()) {
					t.Fatalf("fsck -r of a bomb: %v, problems %q", err, problems)
				}
				if n > hostileAllocLimit {
					t.Errorf("fsck -r of the bomb allocated %d MiB", n>>20)
				}
			})
		}
	}
}

// TestHostileIndexFiles: an index file whose content does not match its
// name is refused, naming it, and is not cached; names that are not ids
// are not read at all; a cached copy that was altered locally is not
// trusted but fetched again.
func TestHostileIndexFiles(t *testing.T) {
	ctx := t.Context()
	blob := []byte("indexed")
	t.Run("content not matching the name", func(t *testing.T) {
		rem := mem.New()
		pi := hostilePack(t, rem, rawObj(objects.TypeBlob, blob))
		good, _ := objects.EncodeIndex([]objects.PackIndex{pi})
		other, _ := objects.EncodeIndex(nil)
		wrongName := objects.ID(blake3.Sum256(other)).String() // a real index's name, on other content
		if err := rem.Put(ctx, remote.IndexPrefix+wrongName, bytes.NewReader(good), int64(len(good))); err != nil {
			t.Fatal(err)
		}
		cache := t.TempDir()
		s := newStore(t)
		sy := &remote.Syncer{Local: s, Remote: rem, CacheDir: cache, Jobs: 2}
		_, err := sy.Fetch(ctx, []objects.ID{objects.Hash(objects.TypeBlob, blob)})
		requireCorrupt(t, err, "remote index "+wrongName, "content does not match its name")
		if _, err := os.Stat(filepath.Join(cache, "index", wrongName)); err == nil {
			t.Error("the refused index file was cached")
		}
		requireClean(t, s)
	})
	t.Run("names that are not ids", func(t *testing.T) {
		rem := mem.New()
		pi := hostilePack(t, rem, rawObj(objects.TypeBlob, blob))
		b, _ := objects.EncodeIndex([]objects.PackIndex{pi})
		for _, n := range []string{"../../escape", "x", "index", strings.Repeat("a", 63), strings.Repeat("A", 64), "../" + strings.Repeat("a", 64)} {
			if err := rem.Put(ctx, remote.IndexPrefix+n, bytes.NewReader(b), int64(len(b))); err != nil {
				t.Fatal(err)
			}
		}
		cache := t.TempDir()
		sy := &remote.Syncer{Local: newStore(t), Remote: rem, CacheDir: filepath.Join(cache, "c")}
		idx, err := sy.LoadIndex(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(idx.Files) != 0 || len(idx.Objects) != 0 {
			t.Errorf("index files with names that are not ids were read: %v", idx.Files)
		}
		var files []string
		_ = filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) > 0 {
			t.Errorf("files written: %v", files)
		}
	})
	t.Run("altered cache", func(t *testing.T) {
		rem := mem.New()
		pi := hostilePack(t, rem, rawObj(objects.TypeBlob, blob))
		name := putIndex(t, rem, pi)
		cache := t.TempDir()
		sy := &remote.Syncer{Local: newStore(t), Remote: rem, CacheDir: cache}
		if _, err := sy.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		// Someone replaces the cached copy with an index naming other
		// objects: dv notices and reads the remote's again.
		evil, _ := objects.EncodeIndex([]objects.PackIndex{{Pack: pi.Pack, Entries: []objects.Entry{{
			ID: objects.Hash(objects.TypeBlob, []byte("evil")), Type: objects.TypeBlob, Offset: 8, Length: 4, RawLen: 4}}}})
		if err := os.WriteFile(filepath.Join(cache, "index", name), evil, 0o644); err != nil {
			t.Fatal(err)
		}
		idx, err := sy.LoadIndex(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := idx.Objects[objects.Hash(objects.TypeBlob, blob)]; !ok || len(idx.Objects) != 1 {
			t.Errorf("the altered cached index was trusted: %d objects", len(idx.Objects))
		}
	})
}

// TestHostileRefs: refs on the remote with names that are paths or not
// ref names are ignored (never written, locally or in the tracking cache);
// a ref whose content is not an id is refused by name.
func TestHostileRefs(t *testing.T) {
	ctx := t.Context()
	blob := []byte("ref target")
	id := objects.Hash(objects.TypeBlob, blob)
	rem := mem.New()
	putIndex(t, rem, hostilePack(t, rem, rawObj(objects.TypeBlob, blob)))
	put := func(name, content string) {
		if err := rem.Put(ctx, remote.RefsPrefix+name, strings.NewReader(content), int64(len(content))); err != nil {
			t.Fatal(err)
		}
	}
	bad := []string{"../../x", "../x", "/abs", "datasets/../../../x", "a//b", ".hidden", "datasets/.x", "x.lock",
		"a b", "a\x00b", "datasets/", "", "a\\..\\b", strings.Repeat("n", 300), "datasets/..", "~x", "a:b"}
	for _, n := range bad {
		put(n, id.String()+"\n")
	}
	put("datasets/ok", id.String()+"\n")

	root := t.TempDir()
	dvDir := filepath.Join(root, "proj", ".dv")
	s := newStore(t)
	sy := &remote.Syncer{Local: s, Remote: rem, CacheDir: filepath.Join(dvDir, "remotes", "shelf")}
	got, err := sy.RemoteRefs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["datasets/ok"] != id {
		t.Fatalf("remote refs read: %v, want only datasets/ok", got)
	}
	local := refs.Open(filepath.Join(dvDir, "refs"))
	if _, err := sy.ApplyRefs(ctx, local, got); err != nil {
		t.Fatal(err)
	}
	var files []string
	if err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"proj/.dv/refs/datasets/ok", "proj/.dv/remotes/shelf/refs/datasets/ok"}
	if !slices.Equal(files, want) {
		t.Errorf("files written: %q, want %q", files, want)
	}

	// Garbage in a ref with a good name: refused by name.
	for _, content := range []string{"../../x\n", "", "not an id", strings.Repeat("f", 65), strings.ToUpper(id.String())} {
		put("datasets/junk", content)
		_, err := sy.RemoteRefs(ctx)
		requireCorrupt(t, err, "remote ref datasets/junk")
	}
	// A ref of 256 MiB (a folder remote's link to /dev/zero would be
	// endless): refused after reading a little more than a ref can hold.
	huge := make([]byte, 256<<20)
	copy(huge, id.String()+"\n")
	if err := rem.Put(ctx, remote.RefsPrefix+"datasets/junk", bytes.NewReader(huge), int64(len(huge))); err != nil {
		t.Fatal(err)
	}
	var err2 error
	n := allocated(func() { _, err2 = sy.RemoteRefs(ctx) })
	requireCorrupt(t, err2, "remote ref datasets/junk", "not a ref")
	if n > hostileAllocLimit {
		t.Errorf("refusing a ref of 256 MiB allocated %d MiB", n>>20)
	}
	t.Logf("a ref of 256 MiB: refused, %d KiB allocated: %v", n>>10, err2)
}

// zstdEncode compresses data as the store does (one frame).
func zstdEncode(t *testing.T, data []byte) []byte {
	t.Helper()
	s := newStore(t)
	w := s.NewWriter()
	id, err := w.Put(t.Context(), objects.TypeBlob, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	e, stored, err := s.LoadStored(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Comp != compZstd {
		t.Fatalf("%d bytes were stored raw", len(data))
	}
	return stored
}
