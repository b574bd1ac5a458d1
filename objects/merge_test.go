package objects

import (
	"fmt"
	"testing"
)

// Many small writers (one pack and index file each, as dv run makes) do
// not leave many index files: they are merged, and every object stays
// readable, also through a store opened before the merge.
func TestIndexMerge(t *testing.T) {
	s, dir := tstStore(t)
	early := tstReopen(t, dir)
	var ids []ID
	var datas [][]byte
	for i := range mergeIndexAt + 10 {
		d := []byte(fmt.Sprintf("record %d", i))
		ids = append(ids, tstPut(t, s, TypeRecord, d)...)
		datas = append(datas, d)
	}
	if n := len(tstFiles(t, dir, IndexDir)); n >= mergeIndexAt {
		t.Fatalf("%d index files left, want fewer than %d", n, mergeIndexAt)
	}
	if n := len(tstFiles(t, dir, PacksDir)); n != mergeIndexAt+10 {
		t.Fatalf("%d packs, want %d", n, mergeIndexAt+10)
	}
	late := tstReopen(t, dir)
	if err := early.loadIndex(); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		tstLoad(t, late, id, TypeRecord, datas[i])
		tstLoad(t, early, id, TypeRecord, datas[i])
	}
	tstMustCheckClean(t, late)
}
