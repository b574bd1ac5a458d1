package workspace

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// tstRepo creates and opens a project in base/work, where base is a fresh
// temporary directory that the test can check for stray writes.
func tstRepo(t testing.TB) (r *Repo, base string) {
	t.Helper()
	base = t.TempDir()
	root := filepath.Join(base, "work")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Init(root); err != nil {
		t.Fatal(err)
	}
	if err := Init(root); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	r.Jobs = 4
	t.Cleanup(func() { _ = r.Close() })
	return r, base
}

func tstRandBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'w', 's'}).Read(b)
	return b
}

// tstWrite creates the file rel below root with content and permissions.
func tstWrite(t testing.TB, root, rel string, content []byte, perm os.FileMode) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func tstSymlink(t testing.TB, root, rel, target string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func tstRead(t testing.TB, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tstTreeState describes every path below dir: kind, exec bit, content
// hash or link target. Symlinks are not followed.
func tstTreeState(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link -> " + target
		case fi.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file exec=%v %d %x", fi.Mode()&0o100 != 0, len(b), sha256.Sum256(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tstDataset builds data/ with every kind of entry dv tracks.
func tstDataset(t testing.TB, root string) {
	t.Helper()
	tstWrite(t, root, "data/a.txt", []byte("hello\n"), 0o644)
	tstWrite(t, root, "data/empty.bin", nil, 0o644)
	tstWrite(t, root, "data/sub/deeper/x.csv", []byte("x,y\n1,2\n"), 0o644)
	tstWrite(t, root, "data/sub/run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	tstWrite(t, root, "data/héllo wörld.txt", []byte("unicode\n"), 0o644)
	tstWrite(t, root, "data/日本語.txt", []byte("japanese\n"), 0o644)
	tstWrite(t, root, "data/big.bin", tstRandBytes(1, 700<<10), 0o644)
	if err := os.MkdirAll(filepath.Join(root, "data", "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tstSymlink(t, root, "data/link", "sub/run.sh")
	tstSymlink(t, root, "data/sub/up", "../a.txt")
	tstSymlink(t, root, "data/sub/deeper/dirlink", "..")
}

func tstStatus(t testing.TB, r *Repo) map[string]string {
	t.Helper()
	sts, _, err := r.Status(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range sts {
		if !s.InCache {
			t.Errorf("%s: data not in the store", s.Path)
		}
		out[s.Path] = s.State
	}
	return out
}

func TestAddCheckoutRestoresEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, base := tstRepo(t)
	tstDataset(t, r.Root)
	data := filepath.Join(r.Root, "data")
	want := tstTreeState(t, data)

	res, err := r.Add(ctx, "data", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != objects.EntryDir || res.Files != 6+1 || res.Bytes != int64(6+0+8+18+8+9+700<<10) {
		t.Fatalf("add result %+v", res)
	}
	if res.NewObjects == 0 || res.Unchanged {
		t.Fatalf("first add stored nothing: %+v", res)
	}
	p, err := pointer.Read(filepath.Join(r.Root, "data.dv"))
	if err != nil {
		t.Fatal(err)
	}
	if p.OID != res.ID || p.Kind != "dataset" || p.Type != objects.EntryDir || p.Files != res.Files {
		t.Fatalf("pointer %+v", p)
	}
	if gi := tstRead(t, r.Root, ".gitignore"); gi != "/data\n" {
		t.Fatalf(".gitignore = %q", gi)
	}
	if err := r.Store.Complete(ctx, p.OID); err != nil {
		t.Fatal(err)
	}

	// Adding again changes nothing.
	again, err := r.Add(ctx, "data", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.NewObjects != 0 || again.ID != res.ID {
		t.Fatalf("second add: %+v", again)
	}
	if got := tstStatus(t, r); got["data"] != StateClean {
		t.Fatalf("status after add: %v", got)
	}

	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	if got := tstStatus(t, r); got["data"] != StateDeleted {
		t.Fatalf("status after rm: %v", got)
	}
	results, err := r.Checkout(ctx, nil, CheckoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Written != 7 || results[0].Failed != 0 {
		t.Fatalf("checkout results %+v", results)
	}
	if got := tstTreeState(t, data); !reflect.DeepEqual(got, want) {
		t.Fatalf("checkout did not restore the tree:\n got %v\nwant %v", got, want)
	}
	if got := tstStatus(t, r); got["data"] != StateClean {
		t.Fatalf("status after checkout: %v", got)
	}
	// A second checkout has nothing to do.
	results, err = r.Checkout(ctx, nil, CheckoutOptions{})
	if err != nil || len(results) != 1 || !results[0].Unchanged {
		t.Fatalf("second checkout: %+v, %v", results, err)
	}
	// Nothing was written next to the work tree.
	if names := tstNames(t, base); !slices.Equal(names, []string{"work"}) {
		t.Fatalf("files appeared outside the work tree: %v", names)
	}

	// A fresh checkout into an emptied directory (data/ exists, empty).
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checkout(ctx, []string{"data"}, CheckoutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := tstTreeState(t, data); !reflect.DeepEqual(got, want) {
		t.Fatalf("checkout into an empty dir:\n got %v\nwant %v", got, want)
	}
}

func tstNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestAddSingleFileAndOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstWrite(t, r.Root, "models/m.bin", tstRandBytes(2, 300<<10), 0o755)
	res, err := r.Add(ctx, filepath.ToSlash("models/m.bin"), AddOptions{Kind: "model", Name: "m", Desc: "a model", Meta: map[string]string{"epoch": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pointer.Read(filepath.Join(r.Root, "models", "m.bin.dv"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != objects.EntryFile || p.Files != 1 || !p.Exec || p.Kind != "model" || p.Name != "m" || p.Meta["epoch"] != "3" || p.OID != res.ID {
		t.Fatalf("pointer %+v", p)
	}
	if gi := tstRead(t, r.Root, "models/.gitignore"); gi != "/m.bin\n" {
		t.Fatalf("models/.gitignore = %q", gi)
	}
	// A re-add keeps the metadata of the previous pointer.
	tstWrite(t, r.Root, "models/m.bin", []byte("retrained"), 0o755)
	if _, err := r.Add(ctx, "models/m.bin", AddOptions{Kind: "model"}); err != nil {
		t.Fatal(err)
	}
	p2, err := pointer.Read(filepath.Join(r.Root, "models", "m.bin.dv"))
	if err != nil {
		t.Fatal(err)
	}
	if p2.Name != "m" || p2.Desc != "a model" || p2.Meta["epoch"] != "3" || p2.OID == p.OID {
		t.Fatalf("re-added pointer %+v", p2)
	}

	bad := []struct {
		name string
		rel  string
		opts AddOptions
	}{
		{"bad kind", "models/m.bin", AddOptions{Kind: "video"}},
		{"labels-for with model kind", "models/m.bin", AddOptions{Kind: "model", LabelsFor: "x"}},
		{"meta key with =", "models/m.bin", AddOptions{Meta: map[string]string{"a=b": "c"}}},
		{"empty meta key", "models/m.bin", AddOptions{Meta: map[string]string{"": "c"}}},
		{"pointer file", "models/m.bin.dv", AddOptions{}},
		{"missing", "nope", AddOptions{}},
		{"inside a tracked path", "models/m.bin/x", AddOptions{}},
	}
	for _, tc := range bad {
		if _, err := r.Add(ctx, tc.rel, tc.opts); err == nil {
			t.Errorf("%s: Add succeeded", tc.name)
		}
	}
	o := AddOptions{LabelsFor: "crop"}
	if err := o.Validate(); err != nil || o.Kind != "labels" {
		t.Fatalf("--labels-for: kind %q, %v", o.Kind, err)
	}
}

func TestAddRefusesNesting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstWrite(t, r.Root, "d/sub/f", []byte("f"), 0o644)
	if _, err := r.Add(ctx, "d/sub", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, "d", AddOptions{}); err == nil {
		t.Fatal("added a directory containing a tracked one")
	}
	tstWrite(t, r.Root, "e/sub/f", []byte("f"), 0o644)
	if _, err := r.Add(ctx, "e", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, "e/sub", AddOptions{}); err == nil {
		t.Fatal("added a directory inside a tracked one")
	}
}

func TestStatusStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstDataset(t, r.Root)
	tstWrite(t, r.Root, "model.bin", []byte("weights v1"), 0o644)
	tstWrite(t, r.Root, "other.bin", []byte("other"), 0o644)
	for _, p := range []string{"data", "model.bin", "other.bin"} {
		if _, err := r.Add(ctx, p, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"data": StateClean, "model.bin": StateClean, "other.bin": StateClean}
	if got := tstStatus(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("status %v, want %v", got, want)
	}
	steps := []struct {
		name string
		do   func()
		want map[string]string
	}{
		{"edit a file in the dir", func() { tstWrite(t, r.Root, "data/a.txt", []byte("hellO\n"), 0o644) },
			map[string]string{"data": StateModified, "model.bin": StateClean, "other.bin": StateClean}},
		{"same size edit of a file", func() { tstWrite(t, r.Root, "model.bin", []byte("weights v2"), 0o644) },
			map[string]string{"data": StateModified, "model.bin": StateModified, "other.bin": StateClean}},
		{"chmod +x", func() {
			if err := os.Chmod(filepath.Join(r.Root, "other.bin"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"data": StateModified, "model.bin": StateModified, "other.bin": StateModified}},
		{"delete", func() {
			if err := os.RemoveAll(filepath.Join(r.Root, "data")); err != nil {
				t.Fatal(err)
			}
		}, map[string]string{"data": StateDeleted, "model.bin": StateModified, "other.bin": StateModified}},
	}
	for _, s := range steps {
		s.do()
		if got := tstStatus(t, r); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("after %s: status %v, want %v", s.name, got, s.want)
		}
	}
	sts, _, err := r.Status(ctx, []string{"model.bin"})
	if err != nil || len(sts) != 1 || sts[0].State != StateModified {
		t.Fatalf("status of one path: %+v, %v", sts, err)
	}
	if _, _, err := r.Status(ctx, []string{"untracked"}); err == nil {
		t.Fatal("status of an untracked path succeeded")
	}
	// model.bin's new content is not in the store: only --force restores.
	if _, err := r.Checkout(ctx, nil, CheckoutOptions{}); !errors.Is(err, ErrUnsaved) {
		t.Fatalf("checkout over an unsaved edit: %v", err)
	}
	if _, err := r.Checkout(ctx, nil, CheckoutOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"data": StateClean, "model.bin": StateClean, "other.bin": StateClean}
	if got := tstStatus(t, r); !reflect.DeepEqual(got, want) {
		t.Fatalf("status after checkout %v", got)
	}
	if tstRead(t, r.Root, "model.bin") != "weights v1" {
		t.Fatal("model.bin not restored")
	}
}

func TestCheckoutRefusesUnsaved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstDataset(t, r.Root)
	tstWrite(t, r.Root, "model.bin", []byte("weights v1"), 0o644)
	for _, p := range []string{"data", "model.bin"} {
		if _, err := r.Add(ctx, p, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	original := tstTreeState(t, filepath.Join(r.Root, "data"))

	tests := []struct {
		name    string
		path    string
		damage  func()
		unsaved bool
		check   func()
	}{
		{"edited file in a dir", "data", func() { tstWrite(t, r.Root, "data/a.txt", []byte("my local edit"), 0o644) }, true,
			func() {
				if tstRead(t, r.Root, "data/a.txt") != "my local edit" {
					t.Fatal("refused checkout still overwrote the edit")
				}
			}},
		{"new file in a dir", "data", func() { tstWrite(t, r.Root, "data/new.txt", []byte("new and unsaved"), 0o644) }, true,
			func() {
				if tstRead(t, r.Root, "data/new.txt") != "new and unsaved" {
					t.Fatal("refused checkout still removed the file")
				}
			}},
		{"dir replaced by a file", "data/sub", func() {
			if err := os.RemoveAll(filepath.Join(r.Root, "data/sub")); err != nil {
				t.Fatal(err)
			}
			tstWrite(t, r.Root, "data/sub", []byte("unsaved file where a dir was"), 0o644)
		}, true, func() {}},
		{"edited single file", "model.bin", func() { tstWrite(t, r.Root, "model.bin", []byte("weights v2, unsaved"), 0o644) }, true,
			func() {
				if tstRead(t, r.Root, "model.bin") != "weights v2, unsaved" {
					t.Fatal("refused checkout still overwrote the file")
				}
			}},
		{"edit whose content is stored", "data", func() { tstWrite(t, r.Root, "data/a.txt", []byte("x,y\n1,2\n"), 0o644) }, false, func() {}},
		{"deleted file", "data", func() {
			if err := os.Remove(filepath.Join(r.Root, "data/sub/run.sh")); err != nil {
				t.Fatal(err)
			}
		}, false, func() {}},
	}
	for _, tc := range tests {
		tc.damage()
		_, err := r.Checkout(ctx, nil, CheckoutOptions{})
		if tc.unsaved {
			if !errors.Is(err, ErrUnsaved) {
				t.Fatalf("%s: checkout: %v, want ErrUnsaved", tc.name, err)
			}
			tc.check()
			if _, err := r.Checkout(ctx, nil, CheckoutOptions{Force: true}); err != nil {
				t.Fatalf("%s: forced checkout: %v", tc.name, err)
			}
		} else if err != nil {
			t.Fatalf("%s: checkout: %v", tc.name, err)
		}
		if got := tstTreeState(t, filepath.Join(r.Root, "data")); !reflect.DeepEqual(got, original) {
			t.Fatalf("%s: data not restored:\n got %v\nwant %v", tc.name, got, original)
		}
		if tstRead(t, r.Root, "model.bin") != "weights v1" {
			t.Fatalf("%s: model.bin not restored", tc.name)
		}
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstDataset(t, r.Root)
	tstWrite(t, r.Root, "model.bin", []byte("weights v1"), 0o644)
	tstWrite(t, r.Root, "gone.bin", []byte("about to be untracked"), 0o644)
	for _, p := range []string{"data", "model.bin", "gone.bin"} {
		if _, err := r.Add(ctx, p, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ptrsA, err := r.ReadPointers(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snapA := PointerSnapshot(ptrsA)

	tstWrite(t, r.Root, "data/a.txt", []byte("hello, modified\n"), 0o644)
	if err := os.Remove(filepath.Join(r.Root, "data/sub/deeper/x.csv")); err != nil {
		t.Fatal(err)
	}
	tstWrite(t, r.Root, "data/newdir/new.txt", []byte("brand new\n"), 0o644)
	if err := os.Rename(filepath.Join(r.Root, "data/日本語.txt"), filepath.Join(r.Root, "data/sub/renamed.txt")); err != nil {
		t.Fatal(err)
	}

	// Workspace against pointers: the scanned trees are not in the store.
	work, _, err := r.WorkSnapshot(ctx, []string{"data", "model.bin", "gone.bin"})
	if err != nil {
		t.Fatal(err)
	}
	wantData := []Change{
		{Op: OpModified, Path: "data/a.txt"},
		{Op: OpAdded, Path: "data/newdir/new.txt"},
		{Op: OpDeleted, Path: "data/sub/deeper/x.csv"},
		{Op: OpRenamed, Path: "data/sub/renamed.txt", From: "data/日本語.txt"},
	}
	changes, err := r.Diff(ctx, snapA, work)
	if err != nil {
		t.Fatal(err)
	}
	tstSameChanges(t, changes, wantData)

	// Pointer to pointer, after re-adding, with whole paths appearing and
	// disappearing.
	if _, err := r.Add(ctx, "data", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	tstWrite(t, r.Root, "model.bin", []byte("weights v2"), 0o644)
	if _, err := r.Add(ctx, "model.bin", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	tstWrite(t, r.Root, "fresh/f.csv", []byte("fresh"), 0o644)
	if _, err := r.Add(ctx, "fresh", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.Root, "gone.bin.dv")); err != nil {
		t.Fatal(err)
	}
	ptrsB, err := r.ReadPointers(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	snapB := PointerSnapshot(ptrsB)
	changes, err = r.Diff(ctx, snapA, snapB)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]Change{{Op: OpAdded, Path: "fresh/f.csv"}, {Op: OpDeleted, Path: "gone.bin"}}, wantData...)
	want = append(want, Change{Op: OpModified, Path: "model.bin"})
	tstSameChanges(t, changes, want)

	// And the reverse direction.
	changes, err = r.Diff(ctx, snapB, snapA)
	if err != nil {
		t.Fatal(err)
	}
	tstSameChanges(t, changes, []Change{
		{Op: OpModified, Path: "data/a.txt"},
		{Op: OpDeleted, Path: "data/newdir/new.txt"},
		{Op: OpAdded, Path: "data/sub/deeper/x.csv"},
		{Op: OpRenamed, Path: "data/日本語.txt", From: "data/sub/renamed.txt"},
		{Op: OpDeleted, Path: "fresh/f.csv"},
		{Op: OpAdded, Path: "gone.bin"},
		{Op: OpModified, Path: "model.bin"},
	})
	// No changes between a snapshot and itself.
	if changes, err := r.Diff(ctx, snapB, snapB); err != nil || len(changes) != 0 {
		t.Fatalf("self diff: %v, %v", changes, err)
	}
}

func tstSameChanges(t *testing.T, got, want []Change) {
	t.Helper()
	slices.SortFunc(want, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	strip := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Op+" "+c.Path+" "+c.From)
		}
		return out
	}
	if g, w := strip(got), strip(want); !slices.Equal(g, w) {
		t.Fatalf("changes:\n got %q\nwant %q", g, w)
	}
}

func TestAddRefusesEscapingSymlinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		link   string
		target string
	}{
		{"absolute", "d/abs", "/etc/passwd"},
		{"absolute inside the tree", "d/abs2", "/tmp"},
		{"up and out", "d/out", "../../outside"},
		{"deep up and out", "d/a/b/out", "../../../../x"},
		{"sneaky", "d/sneaky", "sub/../../../x"},
		{"to the parent of the root", "d/root-parent", "../.."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := tstRepo(t)
			tstWrite(t, r.Root, "d/ok.txt", []byte("ok"), 0o644)
			tstSymlink(t, r.Root, tc.link, tc.target)
			if _, err := r.Add(context.Background(), "d", AddOptions{}); err == nil {
				t.Fatal("Add accepted an escaping symlink")
			}
			if _, err := os.Stat(filepath.Join(r.Root, "d.dv")); !os.IsNotExist(err) {
				t.Fatal("a pointer was written")
			}
		})
	}
	t.Run("inside links are fine", func(t *testing.T) {
		t.Parallel()
		r, _ := tstRepo(t)
		tstWrite(t, r.Root, "top.txt", []byte("top"), 0o644)
		tstSymlink(t, r.Root, "d/up", "../top.txt") // leaves d/ but not the work tree
		tstSymlink(t, r.Root, "d/dangling", "nowhere")
		if _, err := r.Add(context.Background(), "d", AddOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a symlink itself", func(t *testing.T) {
		t.Parallel()
		r, _ := tstRepo(t)
		tstWrite(t, r.Root, "real.txt", []byte("x"), 0o644)
		tstSymlink(t, r.Root, "alias", "real.txt")
		if _, err := r.Add(context.Background(), "alias", AddOptions{}); err == nil {
			t.Fatal("Add accepted a symlink as the tracked path")
		}
	})
}

// tstPutRaw stores raw bytes as an object of type typ, bypassing every
// encoder's checks, as a hostile remote could.
func tstPutRaw(t testing.TB, r *Repo, typ objects.Type, b []byte) objects.ID {
	t.Helper()
	ctx := context.Background()
	w := r.Store.NewWriter()
	id, err := w.Put(ctx, typ, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCheckoutRefusesHostileTrees(t *testing.T) {
	t.Parallel()
	zero := strings.Repeat("0", 64)
	entry := func(name, typ, id, target string) string {
		if target != "" {
			return fmt.Sprintf(`{"name":%q,"type":%q,"size":0,"id":%q,"target":%q}`, name, typ, id, target)
		}
		return fmt.Sprintf(`{"name":%q,"type":%q,"size":7,"id":%q}`, name, typ, id)
	}
	tree := func(entries ...string) []byte {
		return []byte(`{"version":1,"entries":[` + strings.Join(entries, ",") + `]}`)
	}
	tests := []struct {
		name  string
		build func(r *Repo, blob string) []byte
	}{
		{"dot dot file", func(_ *Repo, blob string) []byte { return tree(entry("..", "file", blob, "")) }},
		{"dot file", func(_ *Repo, blob string) []byte { return tree(entry(".", "file", blob, "")) }},
		{"slash in name", func(_ *Repo, blob string) []byte { return tree(entry("../../escaped", "file", blob, "")) }},
		{"absolute name", func(_ *Repo, blob string) []byte { return tree(entry("/tmp/escaped", "file", blob, "")) }},
		{"empty name", func(_ *Repo, blob string) []byte { return tree(entry("", "file", blob, "")) }},
		{"dot dot dir", func(r *Repo, blob string) []byte {
			sub := tstPutRaw(t, r, objects.TypeTree, tree(entry("escaped", "file", blob, "")))
			return tree(entry("..", "dir", sub.String(), ""))
		}},
		{"escaping symlink", func(_ *Repo, _ string) []byte { return tree(entry("esc", "symlink", zero, "../../escaped")) }},
		{"absolute symlink", func(_ *Repo, _ string) []byte { return tree(entry("esc", "symlink", zero, "/tmp")) }},
		{"escaping symlink deep", func(r *Repo, _ string) []byte {
			sub := tstPutRaw(t, r, objects.TypeTree, tree(entry("esc", "symlink", zero, "../../../escaped")))
			return tree(entry("sub", "dir", sub.String(), ""))
		}},
		{"hostile tree deep", func(r *Repo, blob string) []byte {
			sub := tstPutRaw(t, r, objects.TypeTree, tree(entry("..", "file", blob, "")))
			return tree(entry("a", "file", blob, ""), entry("sub", "dir", sub.String(), ""))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r, base := tstRepo(t)
			blob := tstPutRaw(t, r, objects.TypeBlob, []byte("escaped"))
			root := tstPutRaw(t, r, objects.TypeTree, tc.build(r, blob.String()))
			p := &pointer.Pointer{Kind: "dataset", Type: objects.EntryDir, OID: root, Size: 7, Files: 1}
			if err := pointer.Write(filepath.Join(r.Root, "hostile.dv"), p); err != nil {
				t.Fatal(err)
			}
			for _, force := range []bool{false, true} {
				_, err := r.Checkout(ctx, nil, CheckoutOptions{Force: force})
				if err == nil {
					t.Fatalf("checkout (force=%v) of a hostile tree succeeded", force)
				}
				t.Logf("force=%v: %v", force, err)
			}
			if names := tstNames(t, base); !slices.Equal(names, []string{"work"}) {
				t.Fatalf("files appeared outside the work tree: %v", names)
			}
			for _, n := range tstNames(t, r.Root) {
				if n != ".dv" && n != "hostile.dv" && n != "hostile" {
					t.Fatalf("unexpected %q in the work tree", n)
				}
			}
			_ = filepath.Walk(filepath.Join(r.Root, "hostile"), func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.Mode()&os.ModeSymlink != 0 {
					t.Errorf("a symlink was created: %s", p)
				}
				return nil
			})
		})
	}
}

func TestCheckoutRefusesSymlinkedParent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, base := tstRepo(t)
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	tstWrite(t, r.Root, "f.txt", []byte("payload"), 0o644)
	res, err := r.Add(ctx, "f.txt", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := &pointer.Pointer{Kind: "dataset", Type: objects.EntryFile, OID: res.ID, Size: 7, Files: 1}
	if err := pointer.Write(filepath.Join(outside, "inner.dv"), p); err != nil {
		t.Fatal(err)
	}
	tstSymlink(t, r.Root, "lnk", outside)
	if _, err := r.Checkout(ctx, []string{"lnk/inner"}, CheckoutOptions{Force: true}); err == nil {
		t.Fatal("checkout wrote through a symlinked parent")
	}
	if names := tstNames(t, outside); !slices.Equal(names, []string{"inner.dv"}) {
		t.Fatalf("outside directory now holds %v", names)
	}
}

func TestCheckoutSkipsCorruptData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstWrite(t, r.Root, "d/good.txt", []byte("good content"), 0o644)
	tstWrite(t, r.Root, "d/bad.txt", tstRandBytes(3, 4000), 0o644)
	if _, err := r.Add(ctx, "d", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := objects.Hash(objects.TypeBlob, tstRandBytes(3, 4000))
	l, ok := r.Store.Lookup(bad)
	if !ok {
		t.Fatal("bad.txt not stored")
	}
	pack := filepath.Join(r.Dir, objects.PacksDir, l.Pack.String())
	if err := os.Chmod(pack, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	b[l.Offset+10] ^= 0xff
	if err := os.WriteFile(pack, b, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(r.Root, "d")); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	res, err := r2.Checkout(ctx, nil, CheckoutOptions{})
	if !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("checkout of damaged data: %v, want an integrity error", err)
	}
	if len(res) != 1 || res[0].Failed != 1 {
		t.Fatalf("results %+v", res)
	}
	if _, err := os.Stat(filepath.Join(r.Root, "d", "bad.txt")); !os.IsNotExist(err) {
		t.Fatal("damaged data was checked out")
	}
	if tstRead(t, r.Root, "d/good.txt") != "good content" {
		t.Fatal("the sound file was not checked out")
	}
	// No temporary files are left behind.
	for _, n := range tstNames(t, filepath.Join(r.Root, "d")) {
		if n != "good.txt" {
			t.Fatalf("left behind: %s", n)
		}
	}
}

func TestRelAndFind(t *testing.T) {
	t.Parallel()
	r, base := tstRepo(t)
	tests := []struct {
		in   string
		want string // "" means an error
	}{
		{filepath.Join(r.Root, "data"), "data"},
		{filepath.Join(r.Root, "data.dv"), "data"},
		{filepath.Join(r.Root, "a", "b", "..", "c"), "a/c"},
		{r.Root, ""},
		{base, ""},
		{filepath.Join(r.Root, "..", "x"), ""},
		{filepath.Join(r.Root, ".dv", "packs"), ""},
		{filepath.Join(r.Root, ".git", "config"), ""},
	}
	for _, tc := range tests {
		got, err := r.Rel(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("Rel(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Rel(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if err := os.MkdirAll(filepath.Join(r.Root, "x", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(filepath.Join(r.Root, "x", "y")); err != nil || got != r.Root {
		t.Fatalf("Find = %q, %v", got, err)
	}
	if _, err := Find(base); !errors.Is(err, ErrNotRepo) {
		t.Fatalf("Find outside a project: %v", err)
	}
	if _, err := Open(base); err == nil {
		t.Fatal("Open outside a project succeeded")
	}
	if !bytes.Contains([]byte(tstRead(t, r.Root, ".dv/.gitignore")), []byte("*")) {
		t.Fatal(".dv/.gitignore does not ignore everything")
	}
}
