package objects

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// tstTreeOf stores a tree of the given entries and returns its id.
func tstTreeOf(t testing.TB, s *Store, entries ...TreeEntry) ID {
	t.Helper()
	tr := &Tree{Entries: entries}
	b, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return tstPut(t, s, TypeTree, b)[0]
}

// tstPutFile stores data as a file and returns its content id.
func tstPutFile(t testing.TB, s *Store, data []byte) ID {
	t.Helper()
	ctx := context.Background()
	w := s.NewWriter()
	id, _, err := PutFile(ctx, w, bytes.NewReader(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestReachableAndComplete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := tstStore(t)
	big := tstRand(60, 700<<10)
	bigID := tstPutFile(t, s, big)
	chunks, _, err := s.FileChunks(ctx, bigID)
	if err != nil || len(chunks) < 2 {
		t.Fatalf("big file: %d chunks, %v", len(chunks), err)
	}
	small := tstPut(t, s, TypeBlob, []byte("small"))[0]
	unrelated := tstPut(t, s, TypeBlob, []byte("unrelated"))[0]
	sub := tstTreeOf(t, s, TreeEntry{Name: "small.txt", Type: EntryFile, Size: 5, ID: small})
	root := tstTreeOf(t, s,
		TreeEntry{Name: "big.bin", Type: EntryFile, Size: int64(len(big)), ID: bigID},
		TreeEntry{Name: "sub", Type: EntryDir, Size: 5, Files: 1, ID: sub},
		TreeEntry{Name: "link", Type: EntrySymlink, Target: "sub/small.txt"},
	)
	want := map[ID]bool{root: true, sub: true, small: true, bigID: true}
	for _, c := range chunks {
		want[c.ID] = true
	}
	absent := Hash(TypeTree, []byte("absent"))
	live, err := s.Reachable(ctx, []ID{root, absent, root})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(live, want) {
		t.Fatalf("Reachable gave %d objects, want %d", len(live), len(want))
	}
	if live[unrelated] || live[absent] {
		t.Fatal("Reachable includes an unrelated or absent object")
	}
	if err := s.Complete(ctx, root); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if err := s.Complete(ctx, absent); err != nil {
		t.Fatalf("Complete of a root the store lacks: %v", err)
	}
	// A tree naming an object the store lacks is incomplete.
	gone := Hash(TypeBlob, []byte("never stored"))
	holey := tstTreeOf(t, s, TreeEntry{Name: "x", Type: EntryFile, Size: 1, ID: gone})
	if err := s.Complete(ctx, holey); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Complete of a tree with a missing file: %v", err)
	}
	if live, err := s.Reachable(ctx, []ID{holey}); err != nil || len(live) != 1 {
		t.Fatalf("Reachable skips missing children: %v, %v", live, err)
	}
	// A "tree" that does not parse cannot be walked.
	junk := tstPut(t, s, TypeTree, []byte("not json"))[0]
	if _, err := s.Reachable(ctx, []ID{junk}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Reachable through a malformed tree: %v", err)
	}
	if err := s.Complete(ctx, junk); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Complete of a malformed tree: %v", err)
	}
}

func TestGC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	objs := map[string][]byte{
		"A": []byte("object A"), "B": []byte("object B"),
		"C": []byte("object C"), "D": tstRand(70, 3000),
		"E": []byte("object E"),
	}
	ids := map[string]ID{}
	put := func(names ...string) ID {
		var datas [][]byte
		for _, n := range names {
			datas = append(datas, objs[n])
		}
		got := tstPut(t, s, TypeBlob, datas...)
		for i, n := range names {
			ids[n] = got[i]
		}
		l, _ := s.Lookup(got[0])
		return l.Pack
	}
	mixed := put("A", "B")                              // A live, B dead: rewritten
	allLive := put("C", "D")                            // kept as is
	allDead := put("E")                                 // deleted
	stray := filepath.Join(dir, TmpDir, "pack-123.tmp") // a crashed writer's leftover
	if err := os.WriteFile(stray, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	unindexed := filepath.Join(dir, PacksDir, Hash(TypeBlob, []byte("orphan")).String())
	if err := os.WriteFile(unindexed, []byte("DVPACK1\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	live := map[ID]bool{ids["A"]: true, ids["C"]: true, ids["D"]: true}

	listing := func() []string {
		var all []string
		for _, d := range []string{PacksDir, IndexDir, TmpDir} {
			for _, n := range tstFiles(t, dir, d) {
				all = append(all, d+"/"+n)
			}
		}
		return all
	}
	before := listing()
	dry, err := s.GC(ctx, live, true)
	if err != nil {
		t.Fatal(err)
	}
	want := GCStats{Live: 3, Removed: 2, RemovedBytes: dry.RemovedBytes, PacksDeleted: 1, PacksRewritten: 1, TempFiles: 1}
	if dry != want || dry.RemovedBytes <= 0 {
		t.Fatalf("dry run stats %+v, want %+v", dry, want)
	}
	if after := listing(); !slices.Equal(before, after) {
		t.Fatalf("dry run changed the store:\nbefore %v\nafter  %v", before, after)
	}
	for _, id := range ids {
		if !s.Has(id) {
			t.Fatal("dry run dropped an object from the index")
		}
	}

	st, err := s.GC(ctx, live, false)
	if err != nil {
		t.Fatal(err)
	}
	if st != dry {
		t.Fatalf("GC stats %+v differ from the dry run's %+v", st, dry)
	}
	packs := tstFiles(t, dir, PacksDir)
	has := func(p ID) bool { return slices.Contains(packs, p.String()) }
	if has(mixed) || has(allDead) || !has(allLive) || len(packs) != 2 {
		t.Fatalf("packs after GC: %v (mixed %v, dead %v, live %v)", packs, has(mixed), has(allDead), has(allLive))
	}
	if _, err := os.Stat(unindexed); !os.IsNotExist(err) {
		t.Fatal("GC kept an unindexed pack")
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatal("GC kept a temporary file")
	}
	if n := len(tstFiles(t, dir, IndexDir)); n != 1 {
		t.Fatalf("%d index files after GC, want 1", n)
	}
	check := func(s *Store) {
		t.Helper()
		for n, id := range ids {
			if live[id] {
				tstLoad(t, s, id, TypeBlob, objs[n])
			} else if _, _, err := s.Load(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("dead object %s: %v, want ErrNotFound", n, err)
			}
		}
		if s.Count() != len(live) {
			t.Fatalf("%d objects after GC, want %d", s.Count(), len(live))
		}
		tstMustCheckClean(t, s)
	}
	check(s)
	check(tstReopen(t, dir))

	// A second GC with the same live set has nothing to do.
	again, err := s.GC(ctx, live, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Removed != 0 || again.PacksDeleted != 0 || again.PacksRewritten != 0 {
		t.Fatalf("second GC: %+v", again)
	}
	check(tstReopen(t, dir))
}

func TestGCKeepsReachableFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	data := tstRand(80, 900<<10)
	w := s.NewWriter()
	// One pack holding a multi-chunk file, a tree over it and junk.
	fileID, _, err := PutFile(ctx, w, bytes.NewReader(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	junk, err := w.Put(ctx, TypeBlob, tstRand(81, 50<<10))
	if err != nil {
		t.Fatal(err)
	}
	tr := &Tree{Entries: []TreeEntry{{Name: "data.bin", Type: EntryFile, Size: int64(len(data)), ID: fileID}}}
	tb, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	root, err := w.Put(ctx, TypeTree, tb)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	total := s.Count()
	unlock, err := s.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	live, err := s.Reachable(ctx, []ID{root})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.GC(ctx, live, false)
	unlock()
	if err != nil {
		t.Fatal(err)
	}
	if st.Removed != 1 || st.PacksRewritten != 1 || total-s.Count() != 1 {
		t.Fatalf("GC stats %+v; %d of %d objects left", st, s.Count(), total)
	}
	s2 := tstReopen(t, dir)
	if s2.Has(junk) {
		t.Fatal("junk survived GC")
	}
	var buf bytes.Buffer
	if _, err := s2.ReadFile(ctx, fileID, &buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("file after GC: %v", err)
	}
	if err := s2.Complete(ctx, root); err != nil {
		t.Fatal(err)
	}
	tstMustCheckClean(t, s2)
}

func TestGCEverythingDead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, dir := tstStore(t)
	tstPut(t, s, TypeBlob, []byte("x"), []byte("y"))
	if _, err := s.GC(ctx, map[ID]bool{}, false); err != nil {
		t.Fatal(err)
	}
	if s.Count() != 0 || len(tstFiles(t, dir, PacksDir)) != 0 {
		t.Fatalf("%d objects, packs %v", s.Count(), tstFiles(t, dir, PacksDir))
	}
	s2 := tstReopen(t, dir)
	if s2.Count() != 0 || len(s2.Damaged()) != 0 {
		t.Fatalf("reopened: %d objects, damaged %v", s2.Count(), s2.Damaged())
	}
	// The store still works afterwards.
	ids := tstPut(t, s2, TypeBlob, []byte("x"))
	tstLoad(t, tstReopen(t, dir), ids[0], TypeBlob, []byte("x"))
}

// TestGCSeesObjectsWrittenBeforeTheLock: a store opened before another
// process added data (the CLI opens the repo, then locks for GC) must not
// collect that data once it holds the exclusive lock.
func TestGCSeesObjectsWrittenBeforeTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gcStore, dir := tstStore(t)
	old := tstPut(t, gcStore, TypeBlob, []byte("old and live"))[0]

	// Another process adds a file after gcStore was opened.
	adder := tstReopen(t, dir)
	unlockAdd, err := adder.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	fresh := tstPut(t, adder, TypeBlob, []byte("added meanwhile"))[0]
	unlockAdd()

	unlock, err := gcStore.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	live, err := gcStore.Reachable(ctx, []ID{old, fresh})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gcStore.GC(ctx, live, false); err != nil {
		t.Fatal(err)
	}
	unlock()
	after := tstReopen(t, dir)
	tstLoad(t, after, old, TypeBlob, []byte("old and live"))
	tstLoad(t, after, fresh, TypeBlob, []byte("added meanwhile"))
	tstMustCheckClean(t, after)
}

// TestLoadAfterConcurrentRepack: a store opened before another process's
// gc repacked an object finds it in its new pack (the index files written
// meanwhile are read) instead of calling the vanished pack damage.
func TestLoadAfterConcurrentRepack(t *testing.T) {
	ctx := context.Background()
	s, dir := tstStore(t)
	ids := tstPut(t, s, TypeBlob, []byte("kept by gc"), []byte("dropped by gc"))
	before, _ := s.Lookup(ids[0])
	other := tstReopen(t, dir)
	unlock, err := other.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.GC(ctx, map[ID]bool{ids[0]: true}, false); err != nil {
		t.Fatal(err)
	}
	unlock()
	if after, ok := other.Lookup(ids[0]); !ok || after.Pack == before.Pack {
		t.Fatalf("gc did not repack: before %v, after %v", before.Pack, after.Pack)
	}
	tstLoad(t, s, ids[0], TypeBlob, []byte("kept by gc"))
	if _, _, err := s.LoadStored(ctx, ids[0]); err != nil {
		t.Fatalf("LoadStored after a repack: %v", err)
	}
}
