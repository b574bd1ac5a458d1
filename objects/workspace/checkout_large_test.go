package workspace

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dv-ml/dv/objects"
)

// TestCheckoutLargeFilesInParts checks out two files large enough to be
// written in parts (objects.ParallelReadMin), and one small one, with
// several jobs: each comes back byte for byte, with its mode, and no
// temporary file is left.
func TestCheckoutLargeFilesInParts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, _ := tstRepo(t)
	r.Jobs = 4
	dir := filepath.Join(r.Root, "big")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	want := map[string][]byte{}
	for name, size := range map[string]int{"a.bin": 2*objects.ParallelReadMin + 4321, "b.bin": 5*objects.ParallelReadMin + 1, "c.txt": 100} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want[name] = b
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "b.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, "big", AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	res, err := r.Checkout(ctx, nil, CheckoutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Written != 3 {
		t.Fatalf("checkout results %+v", res)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 3 {
		t.Fatalf("after checkout: %v, %v", ents, err)
	}
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s differs after checkout (%v)", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "b.bin")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("b.bin lost its exec bit: %v %v", fi.Mode(), err)
	}
	if got := tstStatus(t, r); got["big"] != StateClean {
		t.Fatalf("status after checkout: %v", got)
	}
}
