package workspace

import (
	"context"
	"fmt"
	"testing"

	"github.com/dv-ml/dv/objects/pointer"
)

func TestDiffRevs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	revs := map[string]map[string]*pointer.Pointer{}
	commit := func(rev string) {
		for _, p := range []string{"model.bin", "data"} {
			if _, err := r.Add(ctx, p, AddOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		ptrs, err := r.ReadPointers(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		revs[rev] = ptrs
	}
	at := func(_ context.Context, rev string) (map[string]*pointer.Pointer, error) {
		if p, ok := revs[rev]; ok {
			return p, nil
		}
		return nil, fmt.Errorf("revision %q not found", rev)
	}
	tstWrite(t, r.Root, "model.bin", []byte("weights v1"), 0o644)
	tstWrite(t, r.Root, "data/a.csv", []byte("a"), 0o644)
	commit("v1")
	tstWrite(t, r.Root, "model.bin", []byte("weights v2"), 0o644)
	commit("v2")
	tstWrite(t, r.Root, "data/a.csv", []byte("a, edited"), 0o644)

	for _, c := range []struct {
		o    DiffOptions
		want []Change
	}{
		{DiffOptions{}, []Change{{Op: OpModified, Path: "data/a.csv"}}},
		{DiffOptions{Revs: []string{"v1"}, At: at}, []Change{{Op: OpModified, Path: "data/a.csv"}, {Op: OpModified, Path: "model.bin"}}},
		{DiffOptions{Revs: []string{"v1"}, At: at, Paths: []string{"model.bin"}}, []Change{{Op: OpModified, Path: "model.bin"}}},
		{DiffOptions{Revs: []string{"v1", "v2"}, At: at}, []Change{{Op: OpModified, Path: "model.bin"}}},
		{DiffOptions{Revs: []string{"v2", "v2"}, At: at}, nil},
		{DiffOptions{Paths: []string{"data/b.csv"}}, nil},
	} {
		got, err := r.DiffRevs(ctx, c.o)
		if err != nil {
			t.Fatalf("%+v: %v", c.o.Revs, err)
		}
		tstSameChanges(t, got, c.want)
	}
	if _, err := r.DiffRevs(ctx, DiffOptions{Revs: []string{"v9"}, At: at}); err == nil {
		t.Fatal("unknown revision: no error")
	}
	if _, err := r.DiffRevs(ctx, DiffOptions{Revs: []string{"v1"}}); err == nil {
		t.Fatal("revision without a reader: no error")
	}
}
