package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// TestStatOfSysMatchesLstat: the scanner's stat (fstatat in the open
// directory) gives the Stat that StatOf gives for os.Lstat, for every kind
// of entry and mode bit, so that entries recorded by checkout (os.Lstat)
// hit in the scanner and the other way round.
func TestStatOfSysMatchesLstat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tstWrite(t, dir, "plain", []byte("x"), 0o644)
	tstWrite(t, dir, "exec", []byte("#!"), 0o755)
	tstWrite(t, dir, "odd", nil, 0o600)
	if err := os.Chmod(filepath.Join(dir, "odd"), 0o600|os.ModeSetuid|os.ModeSetgid|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	tstSymlink(t, dir, "link", "plain")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	f, fd, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"plain", "exec", "odd", "link", "sub", "fifo"} {
		var sys unix.Stat_t
		if err := unix.Fstatat(fd, name, &sys, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := statOfSys(&sys), StatOf(fi); got != want {
			t.Errorf("%s: statOfSys %+v (%v), StatOf %+v (%v)", name, got, os.FileMode(got.Mode), want, os.FileMode(want.Mode))
		}
	}
}

// TestTreeDigestCoversEveryField: changing any field of any entry changes
// the digest (a field added to objects.TreeEntry must be added to
// treeDigest, or the stat cache would vouch for a stale tree id), and
// moving bytes between neighbouring fields does too.
func TestTreeDigestCoversEveryField(t *testing.T) {
	t.Parallel()
	if n := reflect.TypeFor[objects.TreeEntry]().NumField(); n != 7 {
		t.Fatalf("objects.TreeEntry has %d fields; treeDigest writes 7: add the new one", n)
	}
	base := []objects.TreeEntry{
		{Name: "a", Type: objects.EntryFile, Size: 3, ID: objects.Hash(objects.TypeBlob, []byte("abc"))},
		{Name: "b", Type: objects.EntryDir, Size: 9, Files: 2, ID: objects.Hash(objects.TypeTree, []byte("t"))},
		{Name: "c", Type: objects.EntrySymlink, Target: "a"},
	}
	edits := map[string]func(es []objects.TreeEntry) []objects.TreeEntry{
		"name":   func(es []objects.TreeEntry) []objects.TreeEntry { es[0].Name = "a2"; return es },
		"type":   func(es []objects.TreeEntry) []objects.TreeEntry { es[1].Type = objects.EntryFile; return es },
		"exec":   func(es []objects.TreeEntry) []objects.TreeEntry { es[0].Exec = true; return es },
		"size":   func(es []objects.TreeEntry) []objects.TreeEntry { es[0].Size = 4; return es },
		"files":  func(es []objects.TreeEntry) []objects.TreeEntry { es[1].Files = 3; return es },
		"id":     func(es []objects.TreeEntry) []objects.TreeEntry { es[0].ID[31] ^= 1; return es },
		"target": func(es []objects.TreeEntry) []objects.TreeEntry { es[2].Target = "b"; return es },
		"fewer":  func(es []objects.TreeEntry) []objects.TreeEntry { return es[:2] },
		"none":   func(es []objects.TreeEntry) []objects.TreeEntry { return es[:0] },
		"bytes moved between fields": func(es []objects.TreeEntry) []objects.TreeEntry {
			es[2].Name, es[2].Target = "ca", ""
			return es
		},
	}
	want := treeDigest(base)
	seen := map[[32]byte]string{}
	for name, edit := range edits {
		got := treeDigest(edit(append([]objects.TreeEntry(nil), base...)))
		if got == want {
			t.Errorf("%s: digest unchanged", name)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s: same digest", name, other)
		}
		seen[got] = name
	}
}

// TestStatusNoticesEveryChange: with the stat cache full (files and
// directories: a no-op status reads no content), each change below is
// noticed by a fresh process, and undoing it makes the path clean again.
func TestStatusNoticesEveryChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstDataset(t, r.Root)
	tstAge(t, r.Root, "data")
	if _, err := r.Add(ctx, "data", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := func() *Repo {
		t.Helper()
		r2, err := Open(r.Root)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r2.Close() })
		return r2
	}
	state := func(wantRead bool) string {
		t.Helper()
		sts, read, err := fresh().Status(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !wantRead && read != 0 {
			t.Errorf("read %d content bytes", read)
		}
		return sts[0].State
	}
	if got := state(false); got != StateClean {
		t.Fatalf("after add: %s", got)
	}
	// Every directory's tree id is cached, and is the one in the store.
	ptr, err := pointer.Read(r.Abs("data") + pointer.Ext)
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"data", "data/sub", "data/sub/deeper", "data/emptydir"} {
		id, ok := fresh().Cache.Lookup(rel, treeStatOf(t, r, rel))
		if !ok || !r.Store.Has(id) || rel == "data" && id != ptr.OID {
			t.Errorf("%s: tree id cached %v, %s", rel, ok, id.Short())
		}
	}
	p := func(rel string) string { return filepath.Join(r.Root, filepath.FromSlash(rel)) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	x := p("data/sub/deeper/x.csv")
	xfi, err := os.Lstat(x)
	must(err)
	steps := []struct {
		name     string
		do, undo func()
	}{
		{"new file in a subdirectory", func() { tstWrite(t, r.Root, "data/sub/new.txt", []byte("n"), 0o644) },
			func() { must(os.Remove(p("data/sub/new.txt"))) }},
		{"new empty directory", func() { must(os.Mkdir(p("data/sub/newdir"), 0o755)) },
			func() { must(os.Remove(p("data/sub/newdir"))) }},
		{"deleted file", func() { must(os.Rename(x, p("x.csv.away"))) },
			func() { must(os.Rename(p("x.csv.away"), x)) }},
		{"renamed file", func() { must(os.Rename(x, p("data/sub/deeper/y.csv"))) },
			func() { must(os.Rename(p("data/sub/deeper/y.csv"), x)) }},
		{"chmod +x", func() { must(os.Chmod(x, 0o755)) }, func() { must(os.Chmod(x, 0o644)) }},
		{"symlink retargeted", func() { must(os.Remove(p("data/link"))); tstSymlink(t, r.Root, "data/link", "a.txt") },
			func() { must(os.Remove(p("data/link"))); tstSymlink(t, r.Root, "data/link", "sub/run.sh") }},
		{"empty directory removed", func() { must(os.Remove(p("data/emptydir"))) },
			func() { must(os.Mkdir(p("data/emptydir"), 0o755)) }},
		{"same size, same mtime, new content", func() {
			tstWrite(t, r.Root, "data/sub/deeper/x.csv", []byte("x,y\n3,4\n"), 0o644)
			must(os.Chtimes(x, xfi.ModTime(), xfi.ModTime()))
		}, func() {
			tstWrite(t, r.Root, "data/sub/deeper/x.csv", []byte("x,y\n1,2\n"), 0o644)
		}},
	}
	for _, s := range steps {
		s.do()
		if got := state(true); got != StateModified {
			t.Fatalf("%s: %s, want modified", s.name, got)
		}
		s.undo()
		tstAge(t, r.Root, "data")
		if got := state(true); got != StateClean {
			t.Fatalf("%s undone: %s, want clean", s.name, got)
		}
		if got := state(false); got != StateClean {
			t.Fatalf("%s undone, second status: %s, want clean", s.name, got)
		}
	}
}

// TestAddDoesNotTrustCachedTreeMissingFromStore: a cached tree id that the
// store does not hold (a store rebuilt or collected since) is stored
// again, not trusted.
func TestAddDoesNotTrustCachedTreeMissingFromStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstWrite(t, r.Root, "data/a.txt", []byte("a"), 0o644)
	tstAge(t, r.Root, "data")
	sts, _, err := r.WorkSnapshot(ctx, []string{"data"})
	if err != nil {
		t.Fatal(err)
	}
	want := sts.Entries["data"].ID
	if r.Store.Has(want) {
		t.Fatal("status stored the tree")
	}
	if id, ok := r.Cache.Lookup("data", treeStatOf(t, r, "data")); !ok || id != want {
		t.Fatal("status did not cache the tree id")
	}
	res, err := r.Add(ctx, "data", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != want || !r.Store.Has(want) {
		t.Fatalf("add: id %s (want %s), stored %v", res.ID.Short(), want.Short(), r.Store.Has(want))
	}
}

// treeStatOf returns the cache's key stat for the work-tree directory rel
// as it is now.
func treeStatOf(t *testing.T, r *Repo, rel string) Stat {
	t.Helper()
	s := newScanner(r, objects.HashOnly{})
	top := &dirNode{rel: rel}
	files, err := s.walkAll(context.Background(), top)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.readFiles(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	if _, err := s.buildTree(context.Background(), top); err != nil {
		t.Fatal(err)
	}
	return treeStat(treeDigest(top.entries))
}

// tstAge sets the mtime of every file below rel a minute back, past the
// racy margin, so that the next scan caches them.
func tstAge(t *testing.T, root, rel string) {
	t.Helper()
	old := time.Now().Add(-time.Minute)
	err := filepath.Walk(filepath.Join(root, rel), func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStatusInCacheWithoutStore: a clean status answers whether the store
// holds the data from the stat cache, without opening the store, while
// the index files are unchanged; when they change (gc, a lost index file)
// it opens the store and tells the truth.
func TestStatusInCacheWithoutStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstWrite(t, r.Root, "data/a.txt", []byte("a"), 0o644)
	tstWrite(t, r.Root, "model.bin", []byte("m"), 0o644)
	tstAge(t, r.Root, ".")
	for _, p := range []string{"data", "model.bin"} {
		if _, err := r.Add(ctx, p, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	status := func() (map[string]bool, bool) {
		t.Helper()
		lr := OpenLazy(r.Root)
		defer lr.Close()
		sts, _, err := lr.Status(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		in := map[string]bool{}
		for _, s := range sts {
			in[s.Path] = s.InCache
		}
		return in, lr.Store != nil
	}
	all := map[string]bool{"data": true, "model.bin": true}
	// Each add noted what the store holds (the second one carrying over
	// what the first noted): no status has to read the index.
	if in, opened := status(); !reflect.DeepEqual(in, all) || opened {
		t.Fatalf("after add: in cache %v, store opened %v", in, opened)
	}
	if in, opened := status(); !reflect.DeepEqual(in, all) || opened {
		t.Fatalf("second status: in cache %v, store opened %v", in, opened)
	}
	// Lose the index files: the store holds nothing any more.
	idx := filepath.Join(r.Dir, objects.IndexDir)
	names, err := os.ReadDir(idx)
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	saved := t.TempDir()
	for _, n := range names {
		if err := os.Rename(filepath.Join(idx, n.Name()), filepath.Join(saved, n.Name())); err != nil {
			t.Fatal(err)
		}
	}
	none := map[string]bool{"data": false, "model.bin": false}
	if in, opened := status(); !reflect.DeepEqual(in, none) || !opened {
		t.Fatalf("index gone: in cache %v, store opened %v", in, opened)
	}
	// Back in place but rewritten (same names, new inodes): the cache
	// cannot vouch for them, the store is read again.
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(saved, n.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(idx, n.Name()), b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if in, opened := status(); !reflect.DeepEqual(in, all) || !opened {
		t.Fatalf("index back: in cache %v, store opened %v", in, opened)
	}
	if in, opened := status(); !reflect.DeepEqual(in, all) || opened {
		t.Fatalf("index back, second status: in cache %v, store opened %v", in, opened)
	}
	// Only the current state's entries are kept.
	stored := 0
	for p := range OpenLazy(r.Root).Cache.entries() {
		if strings.HasPrefix(p, storedPrefix) {
			stored++
		}
	}
	if stored != 2 {
		t.Fatalf("%d stored-object entries in the cache, want 2", stored)
	}
}

// TestAddStoresWhatStatusCached: status caches ids (of files and of their
// directories' trees) that it never stored; add must not trust them and
// stores every file, and a later add trusts the stored tree.
func TestAddStoresWhatStatusCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	for i := range 5 {
		tstWrite(t, r.Root, fmt.Sprintf("data/d/f%d", i), tstRandBytes(uint64(i), 100), 0o644)
	}
	tstWrite(t, r.Root, "data/top.txt", []byte("top"), 0o644)
	tstAge(t, r.Root, "data")
	if _, _, err := r.WorkSnapshot(ctx, []string{"data"}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Add(ctx, "data", AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BytesRead != 503 {
		t.Errorf("add read %d bytes, want all 503", res.BytesRead)
	}
	for i := range 5 {
		id := objects.Hash(objects.TypeBlob, tstRandBytes(uint64(i), 100))
		if !r.Store.Has(id) {
			t.Errorf("f%d not stored", i)
		}
	}
	r2, err := Open(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	res2, err := r2.Add(ctx, "data", AddOptions{})
	if err != nil || res2.BytesRead != 0 || res2.ID != res.ID || res2.NewObjects != 0 {
		t.Fatalf("re-add: %+v, %v", res2, err)
	}
}

// TestAddRefusesNestedBeforeReading: a directory holding a pointer file
// is refused before any of its content is read or stored.
func TestAddRefusesNestedBeforeReading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstWrite(t, r.Root, "top/b/inner.bin", []byte("inner"), 0o644)
	if _, err := r.Add(ctx, "top/b/inner.bin", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	tstWrite(t, r.Root, "top/a/x.bin", tstRandBytes(9, 1<<20), 0o644)
	n := r.Store.Count()
	_, err := r.Add(ctx, "top", AddOptions{})
	if err == nil || err.Error() != "top: contains top/b/inner.bin, which is tracked on its own" {
		t.Fatalf("add of a directory holding a tracked file: %v", err)
	}
	if err := r.Store.Refresh(); err != nil {
		t.Fatal(err)
	}
	if r.Store.Count() != n {
		t.Fatalf("the refused add stored %d objects", r.Store.Count()-n)
	}
}
