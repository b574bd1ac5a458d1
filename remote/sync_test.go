package remote_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/mem"
)

func newStore(t *testing.T) *objects.Store {
	t.Helper()
	dir := t.TempDir()
	if err := objects.Init(dir); err != nil {
		t.Fatal(err)
	}
	s, err := objects.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// addFiles stores n random files in a tree and returns the tree id.
func addFiles(t *testing.T, s *objects.Store, n, size int, seed uint64) objects.ID {
	t.Helper()
	ctx := context.Background()
	w := s.NewWriter()
	r := rand.New(rand.NewPCG(seed, 1))
	tree := &objects.Tree{}
	for i := range n {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		id, sz, err := objects.PutFile(ctx, w, bytes.NewReader(b), 2)
		if err != nil {
			t.Fatal(err)
		}
		tree.Entries = append(tree.Entries, objects.TreeEntry{Name: string(rune('a'+i%26)) + string(rune('0'+i/26)), Type: objects.EntryFile, Size: sz, ID: id})
	}
	tb, err := tree.Encode()
	if err != nil {
		t.Fatal(err)
	}
	root, err := w.Put(ctx, objects.TypeTree, tb)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestPushFetchRoundTrip(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	a, b := newStore(t), newStore(t)
	root := addFiles(t, a, 40, 20_000, 1)
	big := addFiles(t, a, 2, 3<<20, 2) // multi-chunk files
	sa := &remote.Syncer{Local: a, Remote: rem, CacheDir: t.TempDir(), Jobs: 4}
	st, err := sa.Push(ctx, []objects.ID{root, big})
	if err != nil {
		t.Fatal(err)
	}
	if st.Objects == 0 || !st.IndexUploaded {
		t.Fatalf("push stats %+v", st)
	}
	before := rem.Calls()
	st2, err := sa.Push(ctx, []objects.ID{root, big})
	if err != nil {
		t.Fatal(err)
	}
	after := rem.Calls()
	reqs := 0
	for k, v := range after {
		reqs += v - before[k]
	}
	if st2.Objects != 0 || reqs > 2 {
		t.Fatalf("second push uploaded %d objects with %d requests; want a no-op", st2.Objects, reqs)
	}

	sb := &remote.Syncer{Local: b, Remote: rem, CacheDir: t.TempDir(), Jobs: 4}
	fst, err := sb.Fetch(ctx, []objects.ID{root, big})
	if err != nil {
		t.Fatal(err)
	}
	if fst.Missing != 0 || fst.Objects == 0 {
		t.Fatalf("fetch stats %+v", fst)
	}
	for _, r := range []objects.ID{root, big} {
		want, _ := a.Reachable(ctx, []objects.ID{r})
		got, err := b.Reachable(ctx, []objects.ID{r})
		if err != nil || len(got) != len(want) {
			t.Fatalf("fetched %d of %d objects: %v", len(got), len(want), err)
		}
		if err := b.Complete(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Check(ctx, func(ce *objects.CorruptError) { t.Errorf("after fetch: %v", ce) }); err != nil {
		t.Fatal(err)
	}
	// A second fetch downloads nothing.
	fst, err = sb.Fetch(ctx, []objects.ID{root, big})
	if err != nil || fst.Objects != 0 {
		t.Fatalf("second fetch: %+v, %v", fst, err)
	}
}

func TestPushOnlyMissingObjects(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	a := newStore(t)
	r1 := addFiles(t, a, 30, 10_000, 3)
	sa := &remote.Syncer{Local: a, Remote: rem, CacheDir: t.TempDir(), Jobs: 2}
	if _, err := sa.Push(ctx, []objects.ID{r1}); err != nil {
		t.Fatal(err)
	}
	r2 := addFiles(t, a, 5, 10_000, 4)
	st, err := sa.Push(ctx, []objects.ID{r1, r2})
	if err != nil {
		t.Fatal(err)
	}
	if st.Objects != 6 { // 5 files + 1 tree
		t.Fatalf("pushed %d objects, want 6", st.Objects)
	}
}

func TestFetchRefusesCorruptRemoteObject(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	a, b := newStore(t), newStore(t)
	root := addFiles(t, a, 3, 50_000, 5)
	sa := &remote.Syncer{Local: a, Remote: rem, CacheDir: t.TempDir(), Jobs: 2}
	if _, err := sa.Push(ctx, []objects.ID{root}); err != nil {
		t.Fatal(err)
	}
	// Flip a byte in the middle of the remote pack.
	var name string
	_ = rem.List(ctx, remote.PacksPrefix, func(fi remote.Info) error { name = fi.Name; return nil })
	data, err := remote.ReadAll(ctx, rem, name)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := rem.Put(ctx, name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	sb := &remote.Syncer{Local: b, Remote: rem, CacheDir: t.TempDir(), Jobs: 2}
	_, err = sb.Fetch(ctx, []objects.ID{root})
	var ce *objects.CorruptError
	if !errors.As(err, &ce) || ce.What != "remote object" {
		t.Fatalf("fetch of a damaged object: %v, want a remote object integrity error", err)
	}
	if _, err := b.Check(ctx, func(ce *objects.CorruptError) { t.Errorf("local store damaged: %v", ce) }); err != nil {
		t.Fatal(err)
	}
}

func TestPushRefsConflict(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	a, b := newStore(t), newStore(t)
	ra := refs.Open(filepath.Join(t.TempDir(), "refs"))
	rb := refs.Open(filepath.Join(t.TempDir(), "refs"))
	sa := &remote.Syncer{Local: a, Remote: rem, CacheDir: t.TempDir()}
	sb := &remote.Syncer{Local: b, Remote: rem, CacheDir: t.TempDir()}
	idA, idB := objects.Hash(objects.TypeBlob, []byte("a")), objects.Hash(objects.TypeBlob, []byte("b"))
	if err := ra.CompareAndSwap(ctx, "datasets/crop", objects.ID{}, idA); err != nil {
		t.Fatal(err)
	}
	if err := rb.CompareAndSwap(ctx, "datasets/crop", objects.ID{}, idB); err != nil {
		t.Fatal(err)
	}
	if up, err := sa.PushRefs(ctx, ra); err != nil || len(up) != 1 {
		t.Fatalf("first push: %v %v", up, err)
	}
	if _, err := sb.PushRefs(ctx, rb); !errors.Is(err, refs.ErrConflict) {
		t.Fatalf("second push: %v, want a conflict", err)
	}
	// After fetching, b's diverged ref is kept, and b may then decide.
	got, err := sb.RemoteRefs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diverged, err := sb.ApplyRefs(ctx, rb, got)
	if err != nil || got["datasets/crop"] != idA || len(diverged) != 1 {
		t.Fatalf("fetch refs: %v %v %v", got, diverged, err)
	}
	if _, err := sb.PushRefs(ctx, rb); err != nil {
		t.Fatalf("push after fetch: %v", err)
	}
	got, err = sa.RemoteRefs(ctx)
	if err != nil || got["datasets/crop"] != idB {
		t.Fatalf("remote ref = %v, %v", got, err)
	}
	if _, err := sa.ApplyRefs(ctx, ra, got); err != nil {
		t.Fatal(err)
	}
	if v, _ := ra.Get("datasets/crop"); v != idB {
		t.Fatal("a's ref did not fast-forward to the remote's value")
	}
}

func TestRemoteGC(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	a := newStore(t)
	keep := addFiles(t, a, 10, 30_000, 7)
	drop := addFiles(t, a, 10, 30_000, 8)
	sa := &remote.Syncer{Local: a, Remote: rem, CacheDir: t.TempDir(), Jobs: 2}
	if _, err := sa.Push(ctx, []objects.ID{keep, drop}); err != nil {
		t.Fatal(err)
	}
	// Inside the grace period nothing is deleted.
	st, err := sa.GC(ctx, []objects.ID{keep}, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksDeleted+st.PacksRewritten != 0 {
		t.Fatalf("young data touched: %+v", st)
	}
	// With no grace, drop's objects go and keep's stay complete.
	dry, err := sa.GC(ctx, []objects.ID{keep}, 0, true)
	if err != nil || dry.Removed != 11 {
		t.Fatalf("dry run: %+v, %v (want 11 removable objects)", dry, err)
	}
	if _, err := sa.GC(ctx, []objects.ID{keep}, 0, false); err != nil {
		t.Fatal(err)
	}
	b := newStore(t)
	sb := &remote.Syncer{Local: b, Remote: rem, CacheDir: t.TempDir(), Jobs: 2}
	if fst, err := sb.Fetch(ctx, []objects.ID{keep}); err != nil || fst.Missing != 0 {
		t.Fatalf("fetch after gc: %+v %v", fst, err)
	}
	if err := b.Complete(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if fst, _ := sb.Fetch(ctx, []objects.ID{drop}); fst.Missing == 0 {
		t.Fatal("gc kept unreachable data")
	}
	var problems []string
	if _, err := sb.Check(ctx, func(ce *objects.CorruptError) { problems = append(problems, ce.Error()) }); err != nil || len(problems) > 0 {
		t.Fatalf("remote check after gc: %v %v", problems, err)
	}
}

func TestGCWaitsForPush(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	a := newStore(t)
	sa := &remote.Syncer{Local: a, Remote: rem, CacheDir: t.TempDir()}
	if _, err := rem.PutIf(ctx, remote.LocksPrefix+"push-x", []byte("{}"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.GC(ctx, nil, 0, false); !errors.Is(err, remote.ErrLocked) {
		t.Fatalf("gc during a push: %v, want ErrLocked", err)
	}
}

// fsck -r checks refs: one naming an object the remote lacks is reported.
func TestCheckReportsDanglingRemoteRef(t *testing.T) {
	ctx := t.Context()
	rem := mem.New()
	a := newStore(t)
	root := addFiles(t, a, 2, 1000, 9)
	sa := &remote.Syncer{Local: a, Remote: rem, CacheDir: t.TempDir()}
	if _, err := sa.Push(ctx, []objects.ID{root}); err != nil {
		t.Fatal(err)
	}
	ghost := objects.Hash(objects.TypeRecord, []byte("never pushed"))
	if _, err := rem.PutIf(ctx, remote.RefsPrefix+"datasets/ghost", []byte(ghost.String()+"\n"), ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	if _, err := sa.Check(ctx, func(ce *objects.CorruptError) { got = append(got, ce.What+" "+ce.Name) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "remote ref datasets/ghost" {
		t.Fatalf("check reported %v, want the dangling ref", got)
	}
}
