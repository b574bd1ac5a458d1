package workspace

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// tstPulled is a fresh clone b of a's project data/, whose store holds
// nothing yet, and what a fetch from a brings: the trees and lists
// (decoded, as remote.Fetched) and the blobs.
type tstPulled struct {
	a, b    *Repo
	base    string // b's temporary directory
	fetched map[objects.ID][]byte
	blobs   []objects.ID
}

func tstPullSetup(t *testing.T) *tstPulled {
	t.Helper()
	ctx := context.Background()
	a, _ := tstRepo(t)
	tstDataset(t, a.Root)
	tstWrite(t, a.Root, "data/sub/large.bin", tstRandBytes(9, 3<<20+12345), 0o644)
	tstWrite(t, a.Root, "data/new/deeper/tool", tstRandBytes(10, prefillMin), 0o755)
	if _, err := a.Add(ctx, "data", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	b, base := tstRepo(t)
	ptr, err := os.ReadFile(filepath.Join(a.Root, "data"+pointer.Ext))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Root, "data"+pointer.Ext), ptr, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &tstPulled{a: a, b: b, base: base, fetched: map[objects.ID][]byte{}}
	ptrs, err := a.ReadPointers(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(id objects.ID)
	walk = func(id objects.ID) {
		l, ok := a.Store.Lookup(id)
		if !ok {
			t.Fatalf("%s not in the source store", id.Short())
		}
		if l.Type == objects.TypeBlob {
			if !slices.Contains(p.blobs, id) {
				p.blobs = append(p.blobs, id)
			}
			return
		}
		data, err := a.Store.LoadType(ctx, id, l.Type)
		if err != nil {
			t.Fatal(err)
		}
		p.fetched[id] = data
		kids, err := a.Store.Children(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kids {
			walk(k)
		}
	}
	walk(ptrs["data"].OID)
	if len(p.blobs) < 10 {
		t.Fatalf("only %d blobs: the dataset should have more", len(p.blobs))
	}
	return p
}

// fetch stores everything in b as a fetch would, handing the blobs to
// sink except those in skip (brought in by an earlier read, say).
func (p *tstPulled) fetch(t *testing.T, sink *Prefill, skip map[objects.ID]bool) {
	t.Helper()
	ctx := context.Background()
	w := p.b.Store.NewWriter()
	defer w.Abort()
	for id := range p.fetched {
		l, _ := p.a.Store.Lookup(id)
		if err := w.PutID(ctx, id, l.Type, p.fetched[id]); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range p.blobs {
		data, err := p.a.Store.LoadType(ctx, id, objects.TypeBlob)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.PutID(ctx, id, objects.TypeBlob, data); err != nil {
			t.Fatal(err)
		}
		if !skip[id] {
			sink.Blob(id, data)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// tstTemps lists the checkout temporary files below dir.
func tstTemps(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), checkoutTempPrefix) {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPrefillWritesFilesAsChunksArrive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := tstPullSetup(t)
	pre := p.b.NewPrefill(ctx, nil, p.fetched)
	planned := len(pre.files)
	if planned != 2 { // the files of prefillMin bytes or more
		t.Fatalf("planned %d files, want 2", planned)
	}
	// Two chunks of the large file come from the store, not the sink.
	skip := map[objects.ID]bool{}
	large := pre.files["data/sub/large.bin"]
	if large == nil || len(large.chunks) < 3 {
		t.Fatalf("large.bin planned as %+v; want several chunks", large)
	}
	skip[large.chunks[0].ID], skip[large.chunks[2].ID] = true, true
	p.fetch(t, pre, skip)
	if got := tstTemps(t, p.b.Root); len(got) != planned {
		t.Fatalf("%d temporary files before the checkout, want %d: %v", len(got), planned, got)
	}
	res, err := p.b.Checkout(ctx, nil, CheckoutOptions{Prefill: pre})
	pre.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Written != 9 {
		t.Fatalf("results %+v", res)
	}
	if pre.placed.Load() != int64(planned) {
		t.Fatalf("%d files renamed from the prefill, want %d", pre.placed.Load(), planned)
	}
	want, got := tstTreeState(t, filepath.Join(p.a.Root, "data")), tstTreeState(t, filepath.Join(p.b.Root, "data"))
	if !maps.Equal(want, got) {
		t.Fatalf("checked out tree differs:\nwant %v\ngot  %v", want, got)
	}
	if left := tstTemps(t, p.b.Root); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	if st := tstStatus(t, p.b); st["data"] != "clean" {
		t.Fatalf("status after the pull: %v", st)
	}
}

func TestPrefillNeverWritesThroughSymlinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := tstPullSetup(t)
	outside := filepath.Join(p.b.Root, "elsewhere")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	// data/sub is a symlink to another directory when the pull starts.
	tstSymlink(t, p.b.Root, "data/sub", "../elsewhere")
	pre := p.b.NewPrefill(ctx, nil, p.fetched)
	p.fetch(t, pre, nil)
	if names := tstNames(t, outside); len(names) > 0 {
		t.Fatalf("the prefill wrote through a symlink: %v", names)
	}
	if _, err := p.b.Checkout(ctx, nil, CheckoutOptions{Force: true, Prefill: pre}); err != nil {
		t.Fatal(err)
	}
	pre.Close()
	if names := tstNames(t, outside); len(names) > 0 {
		t.Fatalf("checkout wrote through a symlink: %v", names)
	}
	want, got := tstTreeState(t, filepath.Join(p.a.Root, "data")), tstTreeState(t, filepath.Join(p.b.Root, "data"))
	if !maps.Equal(want, got) {
		t.Fatalf("checked out tree differs:\nwant %v\ngot  %v", want, got)
	}
	if left := tstTemps(t, p.b.Root); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

func TestPrefillCloseRemovesWhatCheckoutDidNotTake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := tstPullSetup(t)
	// A file of the dataset holds unsaved work: the checkout refuses, and
	// the prefilled files must not stay.
	tstWrite(t, p.b.Root, "data/a.txt", []byte("my edits\n"), 0o644)
	pre := p.b.NewPrefill(ctx, nil, p.fetched)
	p.fetch(t, pre, nil)
	if len(tstTemps(t, p.b.Root)) == 0 {
		t.Fatal("nothing prefilled")
	}
	if _, err := p.b.Checkout(ctx, nil, CheckoutOptions{Prefill: pre}); err == nil {
		t.Fatal("checkout overwrote unsaved work")
	}
	pre.Close()
	if left := tstTemps(t, p.b.Root); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	if tstRead(t, p.b.Root, "data/a.txt") != "my edits\n" {
		t.Fatal("unsaved work lost")
	}
	var nilPre *Prefill
	nilPre.Close() // a pull that fetched nothing has none
}
