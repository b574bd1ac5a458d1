package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/remotetest"
)

func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Store {
		s, err := New(t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// A ref lock left by a killed dv on this host (its pid is gone) does not
// make the next compare-and-swap wait.
func TestPutIfStaleLock(t *testing.T) {
	s, err := New(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	p := filepath.Join(s.root, "refs", "datasets", "crop.lock")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, host)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.PutIf(ctx, "refs/datasets/crop", []byte("x\n"), ""); err != nil {
		t.Fatalf("PutIf behind a dead process's lock: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %v behind a stale lock", d)
	}
}
