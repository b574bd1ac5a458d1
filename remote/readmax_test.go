package remote_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/mem"
)

// TestReadAllMax: a remote blob larger than the cap is refused as damage
// naming it; one at the cap is read whole.
func TestReadAllMax(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := mem.New()
	data := bytes.Repeat([]byte("x"), 100)
	if err := s.Put(ctx, "index/big", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if b, err := remote.ReadAllMax(ctx, s, "index/big", 100); err != nil || len(b) != 100 {
		t.Fatalf("at the cap: %d bytes, %v", len(b), err)
	}
	_, err := remote.ReadAllMax(ctx, s, "index/big", 99)
	var ce *objects.CorruptError
	if !errors.As(err, &ce) || ce.Name != "index/big" {
		t.Fatalf("over the cap: got %v, want a CorruptError naming index/big", err)
	}
}
