package objects

import (
	"errors"
	"reflect"
	"testing"
)

// TestVerifyPack flips one byte inside each object of a pack in turn:
// VerifyPack refuses it with a CorruptError naming that object, while the
// pack's name (the trailer's hash) still matches.
func TestVerifyPack(t *testing.T) {
	t.Parallel()
	b, id, entries := tstWritePack(t, tstObjects())
	got, err := VerifyPack(b, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, entries) {
		t.Fatalf("entries %v, want %v", got, entries)
	}
	for _, e := range entries {
		if e.Length == 0 {
			continue
		}
		bad := append([]byte(nil), b...)
		bad[e.Offset+uint64(e.Length)/2] ^= 0x20
		if pid, err := PackID(bad); err != nil || pid != id {
			t.Fatalf("PackID changed by a flip in object data: %v %v", pid, err)
		}
		_, err := VerifyPack(bad, id)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.What != "object" || ce.Name != e.ID.String() {
			t.Errorf("flip in %s: got %v, want a CorruptError naming it", e.ID.Short(), err)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("flip in %s: %v does not match ErrCorrupt", e.ID.Short(), err)
		}
	}
	// A flip in the trailer changes the name.
	bad := append([]byte(nil), b...)
	bad[len(bad)-20] ^= 1
	if _, err := VerifyPack(bad, id); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailer flip: got %v, want ErrCorrupt", err)
	}
}
