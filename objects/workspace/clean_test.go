package workspace

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestCleanTemp(t *testing.T) {
	root := t.TempDir()
	if err := Init(root); err != nil {
		t.Fatal(err)
	}
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	old := time.Now().Add(-time.Hour)
	write := func(rel string, mod time.Time) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := []string{write(".data.dv.123.tmp", old), write("sub/..gitignore.9.tmp", old), write(".dv/.statcache.77.tmp", old)}
	kept := []string{write(".fresh.dv.5.tmp", time.Now()), write("data/.x.1.tmp", old), write(".git/.y.2.tmp", old),
		write("notes.tmp", old), write(".dv/index/.abc.3.tmp", old)}
	write("data.dv", old)
	if err := os.WriteFile(filepath.Join(root, "data.dv"), []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := r.CleanTemp(context.Background(), 10*time.Minute)
	if err != nil || n != len(gone) {
		t.Fatalf("removed %d, %v; want %d", n, err, len(gone))
	}
	for _, p := range gone {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}

// TestScanKeepsFreshCheckoutTemp: dv status (the scanner) never deletes a
// checkout's temporary file that may still be written; one older than
// TempAge, left by a killed checkout, goes. Neither counts as data.
func TestScanKeepsFreshCheckoutTemp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	tstWrite(t, r.Root, "data/a.csv", []byte("a,b\n"), 0o644)
	if _, err := r.Add(ctx, "data", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(r.Root, "data", checkoutTempPrefix+"111")
	stale := filepath.Join(r.Root, "data", checkoutTempPrefix+"222")
	// A fresh one whose writer lives (this process) stays; one whose
	// writer is gone (a finished process's pid) goes at once.
	live := filepath.Join(r.Root, "data", fmt.Sprintf("%s%d-ab-1", checkoutTempPrefix, os.Getpid()))
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(r.Root, "data", fmt.Sprintf("%s%d-ab-1", checkoutTempPrefix, gone.Process.Pid))
	for _, p := range []string{fresh, stale, live, orphan} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-TempAge - time.Minute)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if got := tstStatus(t, r); got["data"] != "clean" {
		t.Fatalf("status %v: a temporary file counted as data", got)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("status removed a fresh checkout temporary: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale checkout temporary left: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("status removed the temporary of a running writer: %v", err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the temporary of a writer that is gone was left: %v", err)
	}
}
