package objects

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A damaged object dropped by Repair can be stored again; a sound pack
// whose index file was lost is indexed again from its trailer.
func TestRepair(t *testing.T) {
	ctx := context.Background()
	s, dir := tstStore(t)
	a, b := tstRand(1, 40_000), tstRand(2, 40_000)
	ids := tstPut(t, s, TypeBlob, a, b)

	// Flip a byte inside object a.
	l, _ := s.Lookup(ids[0])
	pack := s.PackPath(l.Pack)
	if err := os.Chmod(pack, 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	raw[l.Offset+10] ^= 1
	if err := os.WriteFile(pack, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	probs, _ := tstCheck(t, s)
	if len(probs) == 0 {
		t.Fatal("Check missed the flipped byte")
	}
	unlock, err := s.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Repair(ctx, []ID{ids[0]})
	unlock()
	if err != nil || st.Dropped != 1 {
		t.Fatalf("repair: %+v, %v", st, err)
	}
	if s.Has(ids[0]) || !s.Has(ids[1]) {
		t.Fatal("repair dropped the wrong objects")
	}
	// Re-adding the good bytes stores them again, in a new pack.
	tstPut(t, s, TypeBlob, a)
	tstLoad(t, s, ids[0], TypeBlob, a)
	tstLoad(t, tstReopen(t, dir), ids[1], TypeBlob, b)

	// Lose every index file: the packs are orphans until Repair.
	for _, f := range tstFiles(t, dir, IndexDir) {
		if err := os.Remove(filepath.Join(dir, IndexDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	s2 := tstReopen(t, dir)
	if s2.Has(ids[0]) || s2.Has(ids[1]) {
		t.Fatal("objects visible without an index")
	}
	probs, cst := tstCheck(t, s2)
	if cst.Unindexed == 0 {
		t.Fatalf("Check found no unindexed packs (problems %v)", probs)
	}
	st, err = s2.Repair(ctx, nil)
	if err != nil || st.Reindexed == 0 {
		t.Fatalf("reindex: %+v, %v", st, err)
	}
	tstLoad(t, s2, ids[0], TypeBlob, a)
	tstLoad(t, tstReopen(t, dir), ids[1], TypeBlob, b)
}
