package refs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dv-ml/dv/objects"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"datasets/crop", true},
		{"models/m/production", true},
		{"models/m-2/v1.0", true},
		{"models/M_x/staging@eu", true},
		{"x", true},
		{"a.b", true},
		{"a..b", true},
		{strings.Repeat("a", 255), true},
		{"", false},
		{strings.Repeat("a", 256), false},
		{"..", false},
		{".", false},
		{"datasets/..", false},
		{"../etc/passwd", false},
		{"datasets/../../x", false},
		{"a//b", false},
		{"/x", false},
		{"x/", false},
		{`a\b`, false},
		{`..\..\x`, false},
		{"C:", false},
		{"C:/x", false},
		{".hidden", false},
		{"datasets/.hidden", false},
		{"x.lock", false},
		{"datasets/x.lock/y", false},
		{"a b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a*b", false},
		{"a~1", false},
		{"datasets/crop^", false},
		{"日本", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			t.Parallel()
			err := ValidName(tc.name)
			if tc.ok && err != nil {
				t.Fatalf("ValidName(%q) = %v", tc.name, err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ValidName(%q) = %v, want ErrInvalidName", tc.name, err)
			}
		})
	}
}

func tstID(s string) objects.ID { return objects.Hash(objects.TypeRecord, []byte(s)) }

func TestCompareAndSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := Open(dir)
	a, b, c := tstID("a"), tstID("b"), tstID("c")
	name := "models/m/production"

	if _, err := s.Get(name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing ref: %v", err)
	}
	steps := []struct {
		desc     string
		old, new objects.ID
		conflict bool
		want     objects.ID // zero: the ref must not exist
	}{
		{"create", objects.ID{}, a, false, a},
		{"create again", objects.ID{}, b, true, a},
		{"move from a wrong value", c, b, true, a},
		{"move", a, b, false, b},
		{"move with a stale old", a, c, true, b},
		{"no-op move", b, b, false, b},
		{"delete with a wrong old", a, objects.ID{}, true, b},
		{"delete", b, objects.ID{}, false, objects.ID{}},
		{"delete again", b, objects.ID{}, true, objects.ID{}},
		{"recreate", objects.ID{}, c, false, c},
	}
	for _, st := range steps {
		err := s.CompareAndSwap(ctx, name, st.old, st.new)
		if st.conflict != errors.Is(err, ErrConflict) || (!st.conflict && err != nil) {
			t.Fatalf("%s: CompareAndSwap = %v, conflict expected: %v", st.desc, err, st.conflict)
		}
		got, err := s.Get(name)
		if st.want.IsZero() {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: Get = %s, %v; want not found", st.desc, got.Short(), err)
			}
		} else if err != nil || got != st.want {
			t.Fatalf("%s: Get = %s, %v; want %s", st.desc, got.Short(), err, st.want.Short())
		}
	}
	// The file holds the id in hex, and no lock is left behind.
	b2, err := os.ReadFile(filepath.Join(dir, "models", "m", "production"))
	if err != nil || string(b2) != c.String()+"\n" {
		t.Fatalf("ref file = %q, %v", b2, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "m", "production.lock")); !os.IsNotExist(err) {
		t.Fatal("lock file left behind")
	}
}

func TestCompareAndSwapRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := Open(dir)
	if err := s.CompareAndSwap(ctx, "../escape", objects.ID{}, tstID("x")); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("invalid name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape")); !os.IsNotExist(err) {
		t.Fatal("a ref was written outside the store")
	}
	if _, err := s.Get("/etc/passwd"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Get of an invalid name: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.CompareAndSwap(cctx, "datasets/x", objects.ID{}, tstID("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	// A lock left by a crashed process is a conflict naming the lock file.
	if err := os.MkdirAll(filepath.Join(dir, "datasets"), 0o755); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "datasets", "held.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.CompareAndSwap(ctx, "datasets/held", objects.ID{}, tstID("x"))
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), ".lock") {
		t.Fatalf("held lock: %v", err)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatal("someone else's lock was removed")
	}
	// A damaged ref file is an integrity error, and CAS refuses to move it.
	bad := filepath.Join(dir, "datasets", "bad")
	if err := os.WriteFile(bad, []byte("not an id\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("datasets/bad"); !errors.Is(err, objects.ErrCorrupt) {
		t.Fatalf("Get of a damaged ref: %v", err)
	}
	if err := s.CompareAndSwap(ctx, "datasets/bad", objects.ID{}, tstID("x")); err == nil {
		t.Fatal("CAS over a damaged ref succeeded")
	}
	if _, err := os.Stat(bad + ".lock"); !os.IsNotExist(err) {
		t.Fatal("failed CAS left its lock")
	}
}

func TestCompareAndSwapConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := Open(t.TempDir())
	const workers, rounds = 8, 100
	name := "datasets/contended"
	cur := objects.ID{}
	for round := 0; round < rounds; round++ {
		var wins, conflicts atomic.Int32
		var winner atomic.Value
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := tstID(fmt.Sprintf("round %d worker %d", round, w))
				if w == round%workers && !cur.IsZero() {
					next = objects.ID{} // this worker deletes the ref
				}
				<-start
				err := s.CompareAndSwap(ctx, name, cur, next)
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store(next)
				case errors.Is(err, ErrConflict):
					conflicts.Add(1)
				default:
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		if wins.Load() != 1 || conflicts.Load() != workers-1 {
			t.Fatalf("round %d: %d winners, %d conflicts", round, wins.Load(), conflicts.Load())
		}
		won := winner.Load().(objects.ID)
		got, err := s.Get(name)
		if won.IsZero() {
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("round %d: the winner deleted the ref, but it holds %s (%v)", round, got.Short(), err)
			}
		} else if err != nil || got != won {
			t.Fatalf("round %d: ref holds %s (%v), the winner wrote %s", round, got.Short(), err, won.Short())
		}
		cur = won
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := Open(dir)
	if names, ids, err := s.List(); err != nil || len(names) != 0 || len(ids) != 0 {
		t.Fatalf("List of an empty store: %v, %v, %v", names, ids, err)
	}
	if names, _, err := Open(filepath.Join(dir, "missing")).List(); err != nil || len(names) != 0 {
		t.Fatalf("List of a missing directory: %v, %v", names, err)
	}
	want := map[string]objects.ID{
		"datasets/crop":        tstID("crop"),
		"datasets/weather":     tstID("weather"),
		"models/m/production":  tstID("m prod"),
		"models/m/staging":     tstID("m staging"),
		"models/other/v1.0":    tstID("other"),
		"runs/2024-06-01@host": tstID("run"),
	}
	for n, id := range want {
		if err := s.CompareAndSwap(ctx, n, objects.ID{}, id); err != nil {
			t.Fatal(err)
		}
	}
	// A lock file (an update in flight) is not a ref.
	if err := os.WriteFile(filepath.Join(dir, "datasets", "pending.lock"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, ids, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"datasets/crop", "datasets/weather", "models/m/production", "models/m/staging", "models/other/v1.0", "runs/2024-06-01@host"}
	if !reflect.DeepEqual(names, wantNames) || !reflect.DeepEqual(ids, want) {
		t.Fatalf("List = %v %v", names, ids)
	}
	if err := s.CompareAndSwap(ctx, "datasets/weather", want["datasets/weather"], objects.ID{}); err != nil {
		t.Fatal(err)
	}
	if names, _, _ := s.List(); len(names) != len(want)-1 {
		t.Fatalf("after delete: %v", names)
	}
}

// FuzzValidName: no panic, and an accepted name is a safe relative path
// that stays inside the store directory.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"datasets/crop", "models/m/production", "..", "a//b", "/x", `a\b`, "C:", ".hidden", "x.lock", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidName(name) != nil {
			return
		}
		if name == "" || len(name) > 255 || filepath.IsAbs(name) || strings.ContainsAny(name, "\\:\x00 \n") {
			t.Fatalf("accepted %q", name)
		}
		for _, part := range strings.Split(name, "/") {
			if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
				t.Fatalf("accepted %q with component %q", name, part)
			}
		}
		dir := "/store"
		p := filepath.Join(dir, filepath.FromSlash(name))
		if rel, err := filepath.Rel(dir, p); err != nil || rel != filepath.FromSlash(name) {
			t.Fatalf("%q does not map to its own path below the store: %q", name, rel)
		}
	})
}

// A lock left by a process that no longer exists (a killed dv) does not
// block the next update; one whose owner is alive does.
func TestCompareAndSwapStaleLock(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir)
	ctx := t.Context()
	id := objects.Hash(objects.TypeRecord, []byte("r"))
	if err := os.MkdirAll(filepath.Join(dir, "datasets"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid // exited and reaped
	lock := filepath.Join(dir, "datasets", "crop.lock")
	if err := os.WriteFile(lock, []byte(fmt.Sprintf("%d %s\n", dead, hostname())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.CompareAndSwap(ctx, "datasets/crop", objects.ID{}, id); err != nil {
		t.Fatalf("stale lock of a dead process blocked the update: %v", err)
	}
	if got, err := s.Get("datasets/crop"); err != nil || got != id {
		t.Fatalf("after update: %v %v", got, err)
	}
	if err := os.WriteFile(lock, []byte(fmt.Sprintf("%d %s\n", os.Getpid(), hostname())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.CompareAndSwap(ctx, "datasets/crop", id, objects.ID{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a live owner's lock: %v, want ErrConflict", err)
	}
}
