// Package remotetest is the conformance suite every remote.Store must
// pass: Run(t, newStore) over the memory, folder and S3 implementations.
package remotetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"

	"github.com/dv-ml/dv/remote"
)

// Run runs the suite. newStore returns an empty store; it is called once
// per subtest.
func Run(t *testing.T, newStore func(t *testing.T) remote.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s remote.Store)
	}{
		{"PutGet", testPutGet},
		{"GetRange", testGetRange},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"Stat", testStat},
		{"List", testList},
		{"Delete", testDelete},
		{"PutIfCreate", testPutIfCreate},
		{"PutIfReplace", testPutIfReplace},
		{"PutIfRace", testPutIfRace},
		{"Empty", testEmpty},
		{"Cancelled", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

func put(t *testing.T, s remote.Store, name string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func data(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func testPutGet(t *testing.T, s remote.Store) {
	want := data(300_000, 1)
	put(t, s, "packs/aa", want)
	got, err := remote.ReadAll(t.Context(), s, "packs/aa")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d identical", len(got), len(want))
	}
}

func testGetRange(t *testing.T, s remote.Store) {
	want := data(100_000, 2)
	put(t, s, "packs/r", want)
	for _, r := range [][2]int64{{0, 1}, {10, 1000}, {99_999, 1}, {50_000, 50_000}} {
		got, err := remote.ReadRange(t.Context(), s, "packs/r", r[0], r[1])
		if err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		if !bytes.Equal(got, want[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: wrong bytes", r)
		}
	}
	rc, err := s.Get(t.Context(), "packs/r", 90_000, -1)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(tail, want[90_000:]) {
		t.Fatalf("open-ended range: %d bytes, err %v", len(tail), err)
	}
}

func testNotFound(t *testing.T, s remote.Store) {
	if _, err := s.Get(t.Context(), "packs/missing", 0, -1); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(t.Context(), "packs/missing"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("Stat missing: %v, want ErrNotFound", err)
	}
}

func testOverwrite(t *testing.T, s remote.Store) {
	put(t, s, "index/x", []byte("one"))
	put(t, s, "index/x", []byte("second"))
	got, err := remote.ReadAll(t.Context(), s, "index/x")
	if err != nil || string(got) != "second" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func testStat(t *testing.T, s remote.Store) {
	put(t, s, "packs/s", data(12345, 3))
	fi, err := s.Stat(t.Context(), "packs/s")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size != 12345 || fi.Name != "packs/s" {
		t.Fatalf("stat = %+v", fi)
	}
}

func testList(t *testing.T, s remote.Store) {
	names := []string{"packs/a1", "packs/a2", "index/i1", "refs/datasets/crop", "refs/models/m/production"}
	for i, n := range names {
		put(t, s, n, data(10+i, byte(i)))
	}
	for prefix, want := range map[string][]string{
		"packs/": {"packs/a1", "packs/a2"},
		"refs/":  {"refs/datasets/crop", "refs/models/m/production"},
		"index/": {"index/i1"},
		"none/":  nil,
	} {
		var got []string
		err := s.List(t.Context(), prefix, func(fi remote.Info) error {
			got = append(got, fi.Name)
			if fi.Size <= 0 {
				return fmt.Errorf("%s: size %d", fi.Name, fi.Size)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("list %s: %v", prefix, err)
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("list %s = %v, want %v", prefix, got, want)
		}
	}
	stop := errors.New("stop")
	if err := s.List(t.Context(), "packs/", func(remote.Info) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("List did not return fn's error: %v", err)
	}
}

func testDelete(t *testing.T, s remote.Store) {
	put(t, s, "packs/d", []byte("x"))
	if err := s.Delete(t.Context(), "packs/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "packs/d"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(t.Context(), "packs/d"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

func testPutIfCreate(t *testing.T, s remote.Store) {
	etag, err := s.PutIf(t.Context(), "refs/a", []byte("v1"), "")
	if err != nil || etag == "" {
		t.Fatalf("create: %q, %v", etag, err)
	}
	if _, err := s.PutIf(t.Context(), "refs/a", []byte("v2"), ""); !errors.Is(err, remote.ErrPrecondition) {
		t.Fatalf("second create: %v, want ErrPrecondition", err)
	}
	got, _ := remote.ReadAll(t.Context(), s, "refs/a")
	if string(got) != "v1" {
		t.Fatalf("content %q after a lost create", got)
	}
}

func testPutIfReplace(t *testing.T, s remote.Store) {
	e1, err := s.PutIf(t.Context(), "refs/b", []byte("v1"), "")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := s.Stat(t.Context(), "refs/b")
	if err != nil || fi.ETag != e1 {
		t.Fatalf("stat etag %q, put etag %q, %v", fi.ETag, e1, err)
	}
	e2, err := s.PutIf(t.Context(), "refs/b", []byte("v2"), e1)
	if err != nil {
		t.Fatalf("replace: %v", err)
	}
	if _, err := s.PutIf(t.Context(), "refs/b", []byte("v3"), e1); !errors.Is(err, remote.ErrPrecondition) {
		t.Fatalf("stale replace: %v, want ErrPrecondition", err)
	}
	if _, err := s.PutIf(t.Context(), "refs/b", []byte("v3"), e2); err != nil {
		t.Fatalf("fresh replace: %v", err)
	}
	got, _ := remote.ReadAll(t.Context(), s, "refs/b")
	if string(got) != "v3" {
		t.Fatalf("content %q", got)
	}
}

func testPutIfRace(t *testing.T, s remote.Store) {
	e0, err := s.PutIf(t.Context(), "refs/race", []byte("v0"), "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.PutIf(context.Background(), "refs/race", []byte(fmt.Sprintf("v%d", i+1)), e0)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, remote.ErrPrecondition) {
				t.Errorf("racer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racers won a compare-and-swap from the same etag, want 1", wins)
	}
}

func testEmpty(t *testing.T, s remote.Store) {
	put(t, s, "index/empty", nil)
	got, err := remote.ReadAll(t.Context(), s, "index/empty")
	if err != nil || len(got) != 0 {
		t.Fatalf("empty blob: %d bytes, %v", len(got), err)
	}
}

func testCancelled(t *testing.T, s remote.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, "packs/c", bytes.NewReader([]byte("x")), 1); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	if _, err := s.Stat(t.Context(), "packs/c"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("a cancelled Put left a blob: %v", err)
	}
}
