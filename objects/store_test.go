package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInitOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Open(dir); err == nil {
		t.Fatal("Open of an uninitialised directory succeeded")
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Open of a missing directory succeeded")
	}
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	if err := Init(dir); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	for _, d := range []string{PacksDir, IndexDir, TmpDir} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Fatalf("%s not created: %v", d, err)
		}
	}
	s := tstReopen(t, dir)
	if s.Dir() != dir || s.Count() != 0 || len(s.Damaged()) != 0 {
		t.Fatalf("new store: dir %q, %d objects, damaged %v", s.Dir(), s.Count(), s.Damaged())
	}
	tstMustCheckClean(t, s)
}

func TestWriterPutFlushLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	w := s.NewWriter()
	objs := tstObjects()
	ids := make([]ID, len(objs))
	for i, o := range objs {
		id, err := w.Put(ctx, o.typ, o.data)
		if err != nil {
			t.Fatal(err)
		}
		if id != Hash(o.typ, o.data) {
			t.Fatalf("Put returned %s, want the hash", id)
		}
		ids[i] = id
		if !w.Has(id) {
			t.Fatalf("writer does not have %s before flush", id.Short())
		}
	}
	if s.Has(ids[1]) {
		t.Fatal("object visible in the store before Flush")
	}
	if _, _, err := s.Load(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load before flush: %v, want ErrNotFound", err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	st := w.Stats()
	if st.Objects != len(objs) || st.Packs != 1 {
		t.Fatalf("stats %+v, want %d objects in 1 pack", st, len(objs))
	}
	var raw int64
	for _, o := range objs {
		raw += int64(len(o.data))
	}
	if st.RawBytes != raw || st.StoredBytes >= raw {
		t.Fatalf("stats %+v: raw bytes want %d, stored bytes should be smaller", st, raw)
	}
	if n := len(tstFiles(t, dir, PacksDir)); n != 1 {
		t.Fatalf("%d pack files, want 1", n)
	}
	if n := len(tstFiles(t, dir, IndexDir)); n != 1 {
		t.Fatalf("%d index files, want 1", n)
	}
	if n := len(tstFiles(t, dir, TmpDir)); n != 0 {
		t.Fatalf("%d temporary files left", n)
	}
	for i, o := range objs {
		tstLoad(t, s, ids[i], o.typ, o.data)
	}
	if _, err := s.LoadType(ctx, ids[1], TypeTree); err == nil {
		t.Fatal("LoadType with the wrong type succeeded")
	}
	if b, err := s.LoadType(ctx, ids[1], TypeBlob); err != nil || !bytes.Equal(b, objs[1].data) {
		t.Fatalf("LoadType: %v", err)
	}
	missing := Hash(TypeBlob, []byte("never stored"))
	_, _, err := s.Load(ctx, missing)
	var nf *NotFoundError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) || nf.ID != missing {
		t.Fatalf("Load of a missing object: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Load(cctx, ids[0]); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load with a cancelled context: %v", err)
	}

	// Everything survives reopening.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := tstReopen(t, dir)
	if s2.Count() != len(objs) {
		t.Fatalf("reopened store has %d objects, want %d", s2.Count(), len(objs))
	}
	for i, o := range objs {
		tstLoad(t, s2, ids[i], o.typ, o.data)
	}
	n := 0
	s2.Each(func(l Loc) {
		n++
		if got, ok := s2.Lookup(l.ID); !ok || got != l {
			t.Errorf("Lookup(%s) = %+v, %v; Each gave %+v", l.ID.Short(), got, ok, l)
		}
	})
	if n != len(objs) {
		t.Fatalf("Each visited %d objects", n)
	}
	tstMustCheckClean(t, s2)
}

func TestWriterRefusesOversize(t *testing.T) {
	t.Parallel()
	s, _ := tstStore(t)
	w := s.NewWriter()
	defer w.Abort()
	if _, err := w.Put(context.Background(), TypeBlob, make([]byte, ChunkMax+1)); err == nil {
		t.Fatal("a blob over ChunkMax was accepted")
	}
	if _, err := w.Put(context.Background(), TypeRecord, make([]byte, ChunkMax+1)); err != nil {
		t.Fatalf("a record over ChunkMax was refused: %v", err)
	}
}

func TestWriterAbort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	w := s.NewWriter()
	id, err := w.Put(ctx, TypeBlob, []byte("discard me"))
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if err := w.Flush(ctx); err == nil {
		t.Fatal("Flush after Abort succeeded")
	}
	if _, err := w.Put(ctx, TypeBlob, []byte("more")); err == nil {
		t.Fatal("Put after Abort succeeded")
	}
	if s.Has(id) || len(tstFiles(t, dir, PacksDir)) != 0 || len(tstFiles(t, dir, TmpDir)) != 0 {
		t.Fatal("Abort left data behind")
	}
}

func TestDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	data := tstRand(20, 1000)

	w := s.NewWriter()
	id1, err := w.Put(ctx, TypeBlob, data)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := w.Put(ctx, TypeBlob, append([]byte(nil), data...))
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 {
		t.Fatal("same content, different ids")
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Objects != 1 {
		t.Fatalf("same content twice stored %d objects", st.Objects)
	}

	// A later writer, and a store opened afterwards, find it too.
	w2 := s.NewWriter()
	if _, err := w2.Put(ctx, TypeBlob, data); err != nil {
		t.Fatal(err)
	}
	if err := w2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w2.Stats(); st.Objects != 0 || st.Packs != 0 {
		t.Fatalf("second writer stored %+v", st)
	}
	s2 := tstReopen(t, dir)
	w3 := s2.NewWriter()
	if _, err := w3.Put(ctx, TypeBlob, data); err != nil {
		t.Fatal(err)
	}
	if err := w3.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w3.Stats(); st.Objects != 0 {
		t.Fatalf("writer on a reopened store stored %+v", st)
	}
	if s.Count() != 1 || len(tstFiles(t, dir, PacksDir)) != 1 {
		t.Fatalf("%d objects, %d packs; want 1 and 1", s.Count(), len(tstFiles(t, dir, PacksDir)))
	}

	// The same bytes as another type are another object.
	ids := tstPut(t, s, TypeRecord, data)
	if ids[0] == id1 || s.Count() != 2 {
		t.Fatalf("record with blob bytes: id %s, %d objects", ids[0].Short(), s.Count())
	}
}

func TestPutFileReadFile(t *testing.T) {
	t.Parallel()
	big := tstRand(30, 3<<20+12345)
	tests := []struct {
		name      string
		data      []byte
		wantType  Type
		minChunks int
	}{
		{"empty", nil, TypeBlob, 1},
		{"small", []byte("a,b\n1,2\n"), TypeBlob, 1},
		{"exactly ChunkMin", tstRand(31, ChunkMin), TypeBlob, 1},
		{"multi-chunk random", big, TypeList, 3<<20/ChunkMax + 1},
		{"multi-chunk zeros", make([]byte, 2<<20), TypeList, 2 << 20 / ChunkMax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, dir := tstStore(t)
			w := s.NewWriter()
			id, n, err := PutFile(ctx, w, bytes.NewReader(tc.data), 4)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(tc.data)) {
				t.Fatalf("PutFile read %d bytes, want %d", n, len(tc.data))
			}
			hid, hn, err := PutFile(ctx, HashOnly{}, bytes.NewReader(tc.data), 1)
			if err != nil || hid != id || hn != n {
				t.Fatalf("HashOnly gives %s/%d (%v), writer %s/%d", hid.Short(), hn, err, id.Short(), n)
			}
			if tc.wantType == TypeBlob && id != Hash(TypeBlob, tc.data) {
				t.Fatal("a one-chunk file's id is not its blob id")
			}
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			s = tstReopen(t, dir)
			l, ok := s.Lookup(id)
			if !ok || l.Type != tc.wantType {
				t.Fatalf("content stored as %+v (%v), want a %s", l, ok, tc.wantType)
			}
			chunks, size, err := s.FileChunks(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if size != int64(len(tc.data)) || len(chunks) < tc.minChunks {
				t.Fatalf("FileChunks: %d chunks, %d bytes", len(chunks), size)
			}
			var buf bytes.Buffer
			got, err := s.ReadFile(ctx, id, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if got != int64(len(tc.data)) || !bytes.Equal(buf.Bytes(), tc.data) {
				t.Fatalf("ReadFile returned %d bytes, different from what was put", got)
			}
			if err := s.Complete(ctx, id); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			tstMustCheckClean(t, s)
		})
	}
}

func TestPutFileDedupAcrossFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := tstStore(t)
	base := tstRand(40, 2<<20)
	w := s.NewWriter()
	if _, _, err := PutFile(ctx, w, bytes.NewReader(base), 2); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	first := w.Stats().RawBytes
	// Append 1%: only the tail chunks and a new list are new.
	grown := append(append([]byte(nil), base...), tstRand(41, len(base)/100)...)
	w2 := s.NewWriter()
	id, _, err := PutFile(ctx, w2, bytes.NewReader(grown), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w2.Stats(); st.RawBytes > first/4 {
		t.Fatalf("appending 1%% stored %d new bytes of %d", st.RawBytes, len(grown))
	}
	var buf bytes.Buffer
	if _, err := s.ReadFile(ctx, id, &buf); err != nil || !bytes.Equal(buf.Bytes(), grown) {
		t.Fatalf("ReadFile of the grown file: %v", err)
	}
}

type tstFailingReader struct{ n int }

func (r *tstFailingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	copy(p, tstRand(uint64(r.n), n))
	r.n -= n
	return n, nil
}

func TestPutFileReadError(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 100, 1 << 20} {
		if _, _, err := PutFile(context.Background(), HashOnly{}, &tstFailingReader{n: n}, 2); err == nil {
			t.Errorf("reader failing after %d bytes: no error", n)
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := tstStore(t)
	tree := tstPut(t, s, TypeTree, []byte(`{"version":1,"entries":[]}`))[0]
	if _, err := s.ReadFile(ctx, tree, io.Discard); err == nil {
		t.Fatal("ReadFile of a tree succeeded")
	}
	if _, err := s.ReadFile(ctx, Hash(TypeBlob, []byte("nope")), io.Discard); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadFile of a missing object: %v", err)
	}
	// A list naming a chunk the store lacks.
	list := tstPut(t, s, TypeList, EncodeList([]ChunkRef{{ID: Hash(TypeBlob, []byte("gone")), Size: 4}}))[0]
	if _, err := s.ReadFile(ctx, list, io.Discard); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReadFile with a missing chunk: %v", err)
	}
	// A list whose size disagrees with the chunk.
	chunk := tstPut(t, s, TypeBlob, []byte("12345"))[0]
	liar := tstPut(t, s, TypeList, EncodeList([]ChunkRef{{ID: chunk, Size: 4}}))[0]
	if _, err := s.ReadFile(ctx, liar, io.Discard); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadFile of a lying list: %v", err)
	}
	// A "list" object that does not parse.
	bad := tstPut(t, s, TypeList, []byte("not a list"))[0]
	if _, err := s.ReadFile(ctx, bad, io.Discard); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadFile of a malformed list: %v", err)
	}
}

// tstPrefixTwins returns two blob contents whose ids share their first 8
// hex digits (a birthday search over 32 bits; about 80,000 hashes).
func tstPrefixTwins(t testing.TB) ([]byte, []byte) {
	t.Helper()
	seen := map[[4]byte]int{}
	for i := 0; i < 1<<22; i++ {
		id := Hash(TypeBlob, []byte(fmt.Sprint(i)))
		k := [4]byte(id[:4])
		if j, ok := seen[k]; ok {
			return []byte(fmt.Sprint(j)), []byte(fmt.Sprint(i))
		}
		seen[k] = i
	}
	t.Fatal("no prefix collision found")
	return nil, nil
}

func TestResolve(t *testing.T) {
	t.Parallel()
	s, _ := tstStore(t)
	a, b := tstPrefixTwins(t)
	ids := tstPut(t, s, TypeBlob, a, b, []byte("lonely"))
	twin, lonely := ids[0].String(), ids[2].String()
	if twin[:8] != ids[1].String()[:8] {
		t.Fatal("twins do not share a prefix")
	}
	// The shortest prefix that tells the twins apart.
	k := 8
	for twin[:k] == ids[1].String()[:k] {
		k++
	}
	absent := Hash(TypeBlob, []byte("absent")).String()
	tests := []struct {
		name    string
		prefix  string
		want    ID
		wantErr error
	}{
		{"full id", lonely, ids[2], nil},
		{"8 digits", lonely[:8], ids[2], nil},
		{"20 digits", lonely[:20], ids[2], nil},
		{"63 digits", lonely[:63], ids[2], nil},
		{"ambiguous", twin[:8], ID{}, ErrAmbiguous},
		{"twin told apart", twin[:k], ids[0], nil},
		{"not found", absent[:12], ID{}, ErrNotFound},
		{"7 digits", lonely[:7], ID{}, ErrInvalidID},
		{"empty", "", ID{}, ErrInvalidID},
		{"uppercase", strings.ToUpper(lonely[:10]), ID{}, ErrInvalidID},
		{"non-hex", "xyz" + lonely[3:10], ID{}, ErrInvalidID},
		{"65 digits", lonely + "0", ID{}, ErrInvalidID},
		{"full id uppercase", strings.ToUpper(lonely), ID{}, ErrInvalidID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.Resolve(tc.prefix)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Resolve(%q) = %s, %v; want %v", tc.prefix, got.Short(), err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve(%q) = %s, %v; want %s", tc.prefix, got.Short(), err, tc.want.Short())
			}
		})
	}
}

// tstFlip flips one byte of a read-only store file.
func tstFlip(t testing.TB, path string, off int64) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestFlippedByteInPack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"raw object", tstRand(50, 5000)},
		{"zstd object", bytes.Repeat([]byte("flip "), 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, dir := tstStore(t)
			other := []byte("an untouched neighbour")
			ids := tstPut(t, s, TypeBlob, tc.data, other)
			victim := ids[0]
			l, _ := s.Lookup(victim)
			tstFlip(t, s.packPath(l.Pack), int64(l.Offset)+int64(l.Length)/2)

			s2 := tstReopen(t, dir)
			_, data, err := s2.Load(ctx, victim)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load of a damaged object: %v (%d bytes), want ErrCorrupt", err, len(data))
			}
			if data != nil {
				t.Fatal("Load returned data along with the error")
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Name != victim.String() {
				t.Fatalf("error does not name the object: %v", err)
			}
			if _, err := s2.ReadFile(ctx, victim, io.Discard); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ReadFile of a damaged object: %v", err)
			}
			tstLoad(t, s2, ids[1], TypeBlob, other)

			bad, st := tstCheck(t, s2)
			if st.Objects != 2 || st.Packs != 1 {
				t.Errorf("check stats %+v", st)
			}
			// The pack's name covers its trailer; a flipped data byte is
			// the damaged object's alone.
			var sawObject bool
			for _, b := range bad {
				switch {
				case b.What == "object" && b.Name == victim.String():
					sawObject = true
				case b.Name == ids[1].String():
					t.Errorf("check blames the untouched object: %v", b)
				}
			}
			if !sawObject {
				t.Fatalf("check reported %v; want the object", bad)
			}
		})
	}
}

func TestFlippedByteInPackTrailer(t *testing.T) {
	t.Parallel()
	s, dir := tstStore(t)
	ids := tstPut(t, s, TypeBlob, []byte("one"), []byte("two"))
	l, _ := s.Lookup(ids[0])
	tstFlip(t, s.packPath(l.Pack), -12) // the entry count
	s2 := tstReopen(t, dir)
	bad, _ := tstCheck(t, s2)
	found := false
	for _, b := range bad {
		found = found || (b.What == "pack" && b.Name == l.Pack.String())
	}
	if !found {
		t.Fatalf("check did not report the pack: %v", bad)
	}
	// The objects themselves are intact and still load.
	tstLoad(t, s2, ids[0], TypeBlob, []byte("one"))
}

func TestMissingPack(t *testing.T) {
	t.Parallel()
	s, dir := tstStore(t)
	ids := tstPut(t, s, TypeBlob, []byte("soon gone"))
	l, _ := s.Lookup(ids[0])
	if err := os.Remove(s.packPath(l.Pack)); err != nil {
		t.Fatal(err)
	}
	s2 := tstReopen(t, dir)
	if _, _, err := s2.Load(context.Background(), ids[0]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load from a missing pack: %v", err)
	}
	bad, _ := tstCheck(t, s2)
	if len(bad) != 1 || bad[0].Name != ids[0].String() {
		t.Fatalf("check reported %v; want the object", bad)
	}
}

func TestDamagedIndex(t *testing.T) {
	t.Parallel()
	garbage := []byte("DVINDEX1 but then nonsense")
	tests := []struct {
		name   string
		damage func(t *testing.T, dir, name string)
	}{
		{"flipped byte", func(t *testing.T, dir, name string) { tstFlip(t, filepath.Join(dir, IndexDir, name), 50) }},
		{"truncated", func(t *testing.T, dir, name string) {
			p := filepath.Join(dir, IndexDir, name)
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, 20); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage under its own name", func(t *testing.T, dir, _ string) {
			if err := os.WriteFile(filepath.Join(dir, IndexDir, fileName(garbage)), garbage, 0o444); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, dir := tstStore(t)
			ids := tstPut(t, s, TypeBlob, []byte("indexed"))
			idx := tstFiles(t, dir, IndexDir)
			if len(idx) != 1 {
				t.Fatalf("%d index files", len(idx))
			}
			tc.damage(t, dir, idx[0])
			// Foreign and temporary files in the index directory are ignored.
			if err := os.WriteFile(filepath.Join(dir, IndexDir, ".tmp123"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			s2 := tstReopen(t, dir)
			dmg := s2.Damaged()
			if len(dmg) != 1 || !errors.Is(dmg[0], ErrCorrupt) {
				t.Fatalf("Damaged() = %v, want one integrity error", dmg)
			}
			bad, _ := tstCheck(t, s2)
			found := false
			for _, b := range bad {
				found = found || b.What == "index"
			}
			if !found {
				t.Fatalf("check did not report the index: %v", bad)
			}
			if tc.name != "garbage under its own name" && s2.Has(ids[0]) {
				t.Fatal("an object from a damaged index is still used")
			}
		})
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	other := tstReopen(t, dir)
	unlock1, err := s.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	unlock2, err := other.Lock(ctx, false)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if _, err := other.Lock(tctx, true); err == nil {
		t.Fatal("exclusive lock taken while shared locks are held")
	}
	unlock1()
	unlock2()
	unlockX, err := s.Lock(ctx, true)
	if err != nil {
		t.Fatalf("exclusive lock on a free store: %v", err)
	}
	tctx2, cancel2 := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel2()
	if _, err := other.Lock(tctx2, false); err == nil {
		t.Fatal("shared lock taken while the exclusive lock is held")
	}
	unlockX()
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	s2 := tstReopen(t, dir) // a second store on the same directory, like a second process

	const goroutines, perG = 8, 40
	content := func(g, i int) []byte {
		if i%4 == 0 {
			return []byte(fmt.Sprintf("shared object %d", i)) // put by every goroutine
		}
		return []byte(fmt.Sprintf("goroutine %d object %d %s", g, i, tstRand(uint64(g*1000+i), 300)))
	}
	shared := s.NewWriter() // one writer used from several goroutines
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := s
			if g%2 == 1 {
				store = s2
			}
			w := store.NewWriter()
			if g%4 == 0 {
				w = shared
			}
			for i := 0; i < perG; i++ {
				if _, err := w.Put(ctx, TypeBlob, content(g, i)); err != nil {
					errs <- err
					return
				}
				if i%10 == 9 && w != shared {
					if err := w.Flush(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- w.Flush(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tstFiles(t, dir, TmpDir)); n != 0 {
		t.Fatalf("%d temporary files left", n)
	}
	fresh := tstReopen(t, dir)
	if len(fresh.Damaged()) != 0 {
		t.Fatalf("damaged: %v", fresh.Damaged())
	}
	want := map[ID][]byte{}
	for g := 0; g < goroutines; g++ {
		for i := 0; i < perG; i++ {
			c := content(g, i)
			want[Hash(TypeBlob, c)] = c
		}
	}
	if fresh.Count() != len(want) {
		t.Fatalf("%d objects, want %d", fresh.Count(), len(want))
	}
	for id, c := range want {
		tstLoad(t, fresh, id, TypeBlob, c)
	}
	st := tstMustCheckClean(t, fresh)
	if st.Objects != len(want) {
		t.Fatalf("check saw %d objects, want %d", st.Objects, len(want))
	}
}
