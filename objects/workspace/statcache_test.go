package workspace

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/objects"
)

func tstCacheEntries() map[string]cacheEntry {
	return map[string]cacheEntry{
		"data/a.csv": {st: Stat{Size: 10, Mtime: 1_700_000_000_123_456_789, Ctime: 1_700_000_001_000_000_000, Ino: 42, Mode: 0o644}, id: objects.Hash(objects.TypeBlob, []byte("a"))},
		"":           {st: Stat{}, id: objects.Hash(objects.TypeBlob, nil)},
		"日本/ü.txt":   {st: Stat{Size: -1, Mtime: -5, Ctime: 1 << 62, Ino: ^uint64(0), Mode: uint64(os.ModeSymlink | 0o777)}, id: objects.Hash(objects.TypeList, []byte("l"))},
	}
}

// tstCacheWithTree adds a directory's entry (its tree id under the digest
// of its entries) to tstCacheEntries.
func tstCacheWithTree() map[string]cacheEntry {
	m := tstCacheEntries()
	es := []objects.TreeEntry{{Name: "a.csv", Type: objects.EntryFile, Size: 10, ID: m["data/a.csv"].id}}
	m["data"] = cacheEntry{st: treeStat(treeDigest(es)), id: objects.Hash(objects.TypeTree, []byte("t"))}
	return m
}

func TestStatCacheEncodeDecode(t *testing.T) {
	t.Parallel()
	for _, m := range []map[string]cacheEntry{{}, tstCacheEntries(), tstCacheWithTree()} {
		b := encodeStatCache(m)
		f, err := decodeStatCache(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.entries(); !reflect.DeepEqual(got, m) || !f.sorted {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
		}
	}
}

// TestStatCacheEncodingIsSorted: entries are written sorted by path, so a
// cache's bytes depend on its entries alone.
func TestStatCacheEncodingIsSorted(t *testing.T) {
	t.Parallel()
	m := tstCacheWithTree()
	b := encodeStatCache(m)
	for range 5 {
		if !bytes.Equal(encodeStatCache(maps.Clone(m)), b) {
			t.Fatal("two encodings of one cache differ")
		}
	}
	var paths []string
	for rest := b[len(statHeader) : len(b)-32]; len(rest) > 0; {
		n := binary.LittleEndian.Uint32(rest)
		paths = append(paths, string(rest[4:4+n]))
		rest = rest[4+int(n)+statEntryFixed:]
	}
	if len(paths) != len(m) || !slices.IsSorted(paths) {
		t.Fatalf("paths in the file: %q", paths)
	}
}

func TestStatCacheChecksum(t *testing.T) {
	t.Parallel()
	b := encodeStatCache(tstCacheEntries())
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x04
		if _, err := decodeStatCache(c); err == nil {
			t.Fatalf("flipped byte %d of %d not detected", i, len(b))
		}
	}
	for i := 0; i < len(b); i++ {
		if _, err := decodeStatCache(b[:i]); err == nil {
			t.Fatalf("cache cut to %d bytes accepted", i)
		}
	}
}

func TestLoadStatCacheDamaged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "statcache")
	b := encodeStatCache(tstCacheEntries())
	b[20] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := LoadStatCache(path, time.Now)
	if len(c.entries()) != 0 {
		t.Fatalf("damaged cache loaded %d entries", len(c.entries()))
	}
	if c2 := LoadStatCache(filepath.Join(dir, "missing"), time.Now); len(c2.entries()) != 0 {
		t.Fatal("missing cache is not empty")
	}
}

func TestStatCacheRecordRacy(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_100, 500_000_000)
	id := objects.Hash(objects.TypeBlob, []byte("x"))
	tests := []struct {
		name  string
		mtime time.Time
		ok    bool
	}{
		{"just written", now, false},
		{"10ms old", now.Add(-10 * time.Millisecond), false},
		{"49ms old", now.Add(-49 * time.Millisecond), false},
		{"51ms old", now.Add(-51 * time.Millisecond), true},
		{"an hour old", now.Add(-time.Hour), true},
		{"in the future", now.Add(time.Hour), false},
		{"whole second, 1.5s old", time.Unix(1_700_000_099, 0), false},
		{"whole second, 2.5s old", time.Unix(1_700_000_098, 0), true},
		{"whole second, 3s old", time.Unix(1_700_000_097, 0), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := LoadStatCache(filepath.Join(t.TempDir(), "sc"), func() time.Time { return now })
			st := Stat{Size: 1, Mtime: tc.mtime.UnixNano(), Ino: 7}
			if got := c.Record("f", st, id); got != tc.ok {
				t.Fatalf("Record = %v, want %v", got, tc.ok)
			}
			_, hit := c.Lookup("f", st)
			if hit != tc.ok {
				t.Fatalf("Lookup after Record = %v, want %v", hit, tc.ok)
			}
		})
	}
}

func TestStatCacheLookupMisses(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := LoadStatCache(filepath.Join(t.TempDir(), "sc"), func() time.Time { return now })
	base := Stat{Size: 100, Mtime: now.Add(-time.Hour).UnixNano(), Ctime: now.Add(-time.Hour).UnixNano() + 5, Ino: 1234, Mode: 0o644}
	id := objects.Hash(objects.TypeBlob, []byte("content"))
	if !c.Record("a/b.csv", base, id) {
		t.Fatal("Record refused an old entry")
	}
	if got, ok := c.Lookup("a/b.csv", base); !ok || got != id {
		t.Fatalf("Lookup of the same stat: %s, %v", got.Short(), ok)
	}
	tests := []struct {
		name string
		path string
		edit func(s *Stat)
	}{
		{"other path", "a/c.csv", func(*Stat) {}},
		{"size", "a/b.csv", func(s *Stat) { s.Size++ }},
		{"mtime", "a/b.csv", func(s *Stat) { s.Mtime++ }},
		{"ctime", "a/b.csv", func(s *Stat) { s.Ctime++ }},
		{"inode", "a/b.csv", func(s *Stat) { s.Ino++ }},
		{"mode", "a/b.csv", func(s *Stat) { s.Mode |= 0o100 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := base
			tc.edit(&st)
			if id, ok := c.Lookup(tc.path, st); ok {
				t.Fatalf("hit %s after changing %s", id.Short(), tc.name)
			}
		})
	}
}

func TestStatCacheSaveLoadForget(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "statcache")
	c := LoadStatCache(path, clock)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("an unchanged cache was written")
	}
	old := now.Add(-time.Minute).UnixNano()
	ids := map[string]objects.ID{}
	for i, p := range []string{"x", "d/y", "d/z"} {
		ids[p] = objects.Hash(objects.TypeBlob, []byte(p))
		if !c.Record(p, Stat{Size: int64(i), Mtime: old}, ids[p]) {
			t.Fatal("Record refused")
		}
	}
	c.Forget("d/y")
	c.Forget("never there")
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c2 := LoadStatCache(path, clock)
	if len(c2.entries()) != 2 {
		t.Fatalf("reloaded %d entries, want 2", len(c2.entries()))
	}
	if got, ok := c2.Lookup("d/z", Stat{Size: 2, Mtime: old}); !ok || got != ids["d/z"] {
		t.Fatal("entry lost across Save/Load")
	}
	if _, ok := c2.Lookup("d/y", Stat{Size: 1, Mtime: old}); ok {
		t.Fatal("forgotten entry came back")
	}
}

func TestStatOf(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := StatOf(fi)
	if st.Size != 5 || st.Mtime != fi.ModTime().UnixNano() || st.Ino == 0 || st.Ctime == 0 || os.FileMode(st.Mode).Perm() != 0o600 {
		t.Fatalf("StatOf = %+v", st)
	}
	if err := os.Chmod(path, 0o700); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Lstat(path)
	if StatOf(fi2) == st {
		t.Fatal("chmod does not change the stat")
	}
}

// FuzzDecodeStatCache: no panic; an accepted cache re-encodes to bytes that
// decode to the same entries. The input is decoded as is and, so that the
// parser behind the checksum is reached, also with a valid checksum
// appended.
func FuzzDecodeStatCache(f *testing.F) {
	f.Add(encodeStatCache(map[string]cacheEntry{}))
	full := encodeStatCache(tstCacheEntries())
	f.Add(full)
	f.Add(full[:len(full)-32])
	f.Add(encodeStatCache(tstCacheWithTree()))
	f.Add([]byte(statHeader))
	f.Add([]byte(statHeader + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sum := blake3.Sum256(b)
		sealed := append(append([]byte(nil), b...), sum[:]...)
		for _, in := range [][]byte{b, sealed} {
			tstFuzzStatCache(t, in)
		}
	})
}

func tstFuzzStatCache(t *testing.T, b []byte) {
	t.Helper()
	f, err := decodeStatCache(b)
	if err != nil {
		return
	}
	m := f.entries()
	if len(m) != f.len() {
		t.Fatalf("%d entries, %d paths", f.len(), len(m))
	}
	for i := range f.len() {
		if e, ok := f.find(new(int), f.path(i)); !ok || e != m[string(f.path(i))] {
			t.Fatalf("entry %d (%q) not found", i, f.path(i))
		}
		if e, ok := f.get(string(f.path(i))); !ok || e != m[string(f.path(i))] {
			t.Fatalf("entry %d (%q) not got", i, f.path(i))
		}
	}
	enc := encodeStatCache(m)
	back, err := decodeStatCache(enc)
	if err != nil {
		t.Fatalf("re-encoded cache does not decode: %v", err)
	}
	if !reflect.DeepEqual(back.entries(), m) || !back.sorted {
		t.Fatal("round trip changed the cache")
	}
	if f.sorted && !bytes.Equal(enc, b) {
		t.Fatal("a sorted cache re-encodes to other bytes")
	}
}

// tstUnsortedCache encodes m's entries in the order of paths, as dv
// before version 1's files were sorted wrote them (in map order).
func tstUnsortedCache(m map[string]cacheEntry, paths []string) []byte {
	b := []byte(statHeader)
	for _, p := range paths {
		e := m[p]
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
		for _, v := range []uint64{uint64(e.st.Size), uint64(e.st.Mtime), uint64(e.st.Ctime), e.st.Ino, e.st.Mode} {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		b = append(b, e.id[:]...)
	}
	sum := blake3.Sum256(b)
	return append(b, sum[:]...)
}

// TestStatCacheReadsUnsorted: a file in no order (older dv) loads with
// every entry, and the next Save rewrites it sorted even without changes;
// a path listed twice makes the file damaged.
func TestStatCacheReadsUnsorted(t *testing.T) {
	t.Parallel()
	m := tstCacheWithTree()
	paths := slices.Sorted(maps.Keys(m))
	slices.Reverse(paths)
	path := filepath.Join(t.TempDir(), "statcache")
	if err := os.WriteFile(path, tstUnsortedCache(m, paths), 0o644); err != nil {
		t.Fatal(err)
	}
	c := LoadStatCache(path, time.Now)
	if got := c.entries(); !reflect.DeepEqual(got, m) {
		t.Fatalf("unsorted file loaded %v", got)
	}
	for p, e := range m {
		if id, ok := c.Lookup(p, e.st); !ok || id != e.id {
			t.Errorf("%q: not found in the unsorted file", p)
		}
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, encodeStatCache(m)) {
		t.Fatal("Save did not rewrite the unsorted file sorted")
	}
	dup := tstUnsortedCache(m, append(paths, paths[1]))
	if _, err := decodeStatCache(dup); err == nil {
		t.Fatal("a path listed twice was accepted")
	}
}

// TestCacheCursor: looking up a directory's names in order finds each
// entry, not the neighbours' (a prefix, a longer name, a path below).
func TestCacheCursor(t *testing.T) {
	t.Parallel()
	id := objects.Hash(objects.TypeBlob, []byte("x"))
	st := func(n int64) Stat { return Stat{Size: n, Mtime: 1e9 + n, Mode: 0o644} }
	m := map[string]cacheEntry{}
	for i, p := range []string{"a", "a/b", "a/b/c", "a/b0", "a/bb", "a/c", "a0", "b/b"} {
		m[p] = cacheEntry{st: st(int64(i)), id: id}
	}
	path := filepath.Join(t.TempDir(), "statcache")
	if err := os.WriteFile(path, encodeStatCache(m), 0o644); err != nil {
		t.Fatal(err)
	}
	c := LoadStatCache(path, time.Now)
	cur := c.cursor()
	for _, name := range []string{"a", "b", "b0", "ba", "bb", "c", "d"} {
		p := "a/" + name
		e, want := m[p]
		_, hit := cur.lookup([]byte(p), e.st)
		if hit != want {
			t.Errorf("%s: hit %v, want %v", p, hit, want)
		}
	}
	// A change of this process is seen through a cursor too.
	old := time.Now().Add(-time.Hour).UnixNano()
	if !c.Record("a/b", Stat{Size: 9, Mtime: old}, id) {
		t.Fatal("Record refused")
	}
	cur = c.cursor()
	if _, hit := cur.lookup([]byte("a/b"), m["a/b"].st); hit {
		t.Error("the stale entry hit after Record")
	}
	if _, hit := cur.lookup([]byte("a/b"), Stat{Size: 9, Mtime: old}); !hit {
		t.Error("the recorded entry missed")
	}
}

// TestConcurrentAddsKeepState: two processes (two Repos on one project,
// each with the stat cache and tracked list it loaded at open) add
// different paths; neither loses the other's stat cache entries or
// tracked paths.
func TestConcurrentAddsKeepState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r1, _ := tstRepo(t)
	tstWrite(t, r1.Root, "a/x.csv", []byte("x\n"), 0o644)
	tstWrite(t, r1.Root, "b/y.csv", []byte("y\n"), 0o644)
	r2, err := Open(r1.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	old := time.Now().Add(-time.Minute) // older than the racy margin
	for _, p := range []string{"a/x.csv", "b/y.csv"} {
		if err := os.Chtimes(filepath.Join(r1.Root, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	resA, err := r1.Add(ctx, "a", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resB, err := r2.Add(ctx, "b", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// r2 forgets nothing of r1's when it saves again.
	r2.Cache.Forget("nothing/here")
	if err := r2.Cache.Save(); err != nil {
		t.Fatal(err)
	}
	r3, err := Open(r1.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	tr := r3.loadTracked()
	if tr["a"] != resA.ID || tr["b"] != resB.ID {
		t.Errorf("tracked list %v, want a=%s and b=%s", tr, resA.ID.Short(), resB.ID.Short())
	}
	for _, p := range []string{"a/x.csv", "b/y.csv"} {
		fi, err := os.Lstat(filepath.Join(r1.Root, p))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r3.Cache.Lookup(p, StatOf(fi)); !ok {
			t.Errorf("stat cache lost %s", p)
		}
	}
}

// tstBigCache writes a cache of n files in 100 folders and returns its
// path and entries' paths.
func tstBigCache(b *testing.B, n int) (string, []string) {
	b.Helper()
	m := map[string]cacheEntry{}
	var paths []string
	for i := range n {
		p := fmt.Sprintf("data/d%03d/f%06d.bin", i%100, i)
		paths = append(paths, p)
		m[p] = cacheEntry{st: Stat{Size: 10240, Mtime: int64(i) * 1e6, Ino: uint64(i)}, id: objects.Hash(objects.TypeBlob, []byte(p))}
	}
	path := filepath.Join(b.TempDir(), "statcache")
	if err := os.WriteFile(path, encodeStatCache(m), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, paths
}

// BenchmarkStatCacheLoad: loading the cache of 100,000 files.
func BenchmarkStatCacheLoad(b *testing.B) {
	path, _ := tstBigCache(b, 100_000)
	for b.Loop() {
		if c := LoadStatCache(path, time.Now); c.base.Load().len() != 100_000 {
			b.Fatal("not loaded")
		}
	}
}

// BenchmarkStatCacheRecord: a checkout recording 100,000 files over a
// cache that holds them, then saving.
func BenchmarkStatCacheRecord(b *testing.B) {
	path, paths := tstBigCache(b, 100_000)
	for b.Loop() {
		c := LoadStatCache(path, time.Now)
		for i, p := range paths {
			c.Record(p, Stat{Size: 10240, Mtime: int64(i)*1e6 + 1, Ino: uint64(i)}, objects.ID{})
		}
		if err := c.Save(); err != nil {
			b.Fatal(err)
		}
	}
}
