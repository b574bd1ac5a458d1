package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestDirBatches(t *testing.T) {
	var writes []writeJob
	for d := 0; d < 3; d++ {
		for f := 0; f < 100; f++ {
			writes = append(writes, writeJob{rel: fmt.Sprintf("data/d%d/f%03d", d, f)})
		}
	}
	writes = append(writes, writeJob{rel: "top"})
	for _, workers := range []int{1, 2, 4, 16, 64} {
		batches := dirBatches(writes, workers)
		n := 0
		for _, b := range batches {
			if len(b) == 0 {
				t.Fatalf("workers %d: empty batch", workers)
			}
			for _, j := range b {
				if parentOf(j.rel) != parentOf(b[0].rel) {
					t.Fatalf("workers %d: batch mixes %s and %s", workers, b[0].rel, j.rel)
				}
				if writes[n].rel != j.rel {
					t.Fatalf("workers %d: write %d is %s, want %s (order lost)", workers, n, j.rel, writes[n].rel)
				}
				n++
			}
		}
		if n != len(writes) {
			t.Fatalf("workers %d: %d writes in batches, want %d", workers, n, len(writes))
		}
		if workers <= 4 && len(batches) != 4 {
			t.Fatalf("workers %d: %d batches, want one per directory (4)", workers, len(batches))
		}
		if workers >= 16 && len(batches) < 13 { // 3 directories of 100 split into 4 or more
			t.Fatalf("workers %d: only %d batches", workers, len(batches))
		}
	}
	if b := dirBatches(nil, 8); len(b) != 0 {
		t.Fatalf("no writes: %d batches", len(b))
	}
}

// TestCreateTempMode checks that checkout's files get the tree's mode
// whatever the umask (the chmod is skipped only when the umask keeps it).
func TestCreateTempMode(t *testing.T) {
	dir := t.TempDir()
	for _, umask := range []int{0o022, 0o077, 0o027, 0} {
		old := syscall.Umask(umask)
		got := readUmask()
		syscall.Umask(old)
		if got != os.FileMode(umask) {
			t.Fatalf("readUmask = %o, want %o", got, umask)
		}
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for _, mode := range []os.FileMode{0o644, 0o755} {
		f, err := createTemp(dir, mode)
		if err != nil {
			t.Fatal(err)
		}
		// fixMode uses the umask read once; with 077 now, whatever was read
		// first (022 or 077), the result must be the tree's mode.
		if mode&^processUmask() == mode {
			_ = f.Chmod(mode &^ 0o077) // as the umask would have made it
			processUmask = func() os.FileMode { return 0o077 }
			defer func() { processUmask = sync.OnceValue(readUmask) }()
		}
		if err := fixMode(f, mode); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		fi, err := os.Stat(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Fatalf("mode %v, want %v", fi.Mode().Perm(), mode)
		}
		if filepath.Dir(f.Name()) != dir || !strings.HasPrefix(filepath.Base(f.Name()), checkoutTempPrefix) {
			t.Fatalf("temp name %s", f.Name())
		}
	}
}
