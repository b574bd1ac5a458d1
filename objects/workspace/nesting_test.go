package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tstDeepDir makes below root a chain of directories whose full path is
// longer than PATH_MAX, built with *at calls, so that reading it by path
// fails (ENAMETOOLONG): a corner of the work tree no whole-tree walk can
// pass, whatever the user (root bypasses permissions).
func tstDeepDir(t *testing.T, root, top string) {
	t.Helper()
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	name := top
	for range 20 {
		if err := syscall.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := syscall.Openat(fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		_ = syscall.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, name = next, strings.Repeat("d", 250)
	}
	_ = syscall.Close(fd)
}

// TestAddDoesNotWalkOtherTrees: dv add PATH checks nesting above PATH and
// below it only; an untracked tree beside it (venv/, node_modules/) is
// never walked, so one that cannot be read does not stop the add, while
// Pointers, which walks the whole work tree, stops there. A cancelled
// context stops the walks.
func TestAddDoesNotWalkOtherTrees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstDeepDir(t, r.Root, "venv")
	if _, err := r.Pointers(ctx); err == nil {
		t.Fatal("Pointers walked through a path longer than PATH_MAX: the test proves nothing")
	}
	tstWrite(t, r.Root, "data/a.csv", []byte("a\n"), 0o644)
	tstWrite(t, r.Root, "data/sub/b.csv", []byte("b\n"), 0o644)
	if _, err := r.Add(ctx, "data/sub", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, "data", AddOptions{}); err == nil || !strings.Contains(err.Error(), "contains data/sub") {
		t.Fatalf("add of a directory holding tracked data: %v", err)
	}
	if _, err := r.Add(ctx, "data/sub/b.csv", AddOptions{}); err == nil || !strings.Contains(err.Error(), "inside data/sub") {
		t.Fatalf("add inside tracked data: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.Root, "data", "sub.dv")); err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Pointers(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Pointers with a cancelled context: %v", err)
	}
	if _, err := r.CleanTemp(cancelled, TempAge); !errors.Is(err, context.Canceled) {
		t.Errorf("CleanTemp with a cancelled context: %v", err)
	}
	if _, err := r.ReadPointers(cancelled, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadPointers with a cancelled context: %v", err)
	}
}
