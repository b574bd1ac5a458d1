package refs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects"
)

// TestNameConflicts checks git's rule: no ref name is a prefix directory
// of another, refused before anything is written.
func TestNameConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		existing []string
		ref      string
		conflict string // the existing ref named in the error; "" = allowed
	}{
		{"longer name under a ref", []string{"datasets/a"}, "datasets/a/b", "datasets/a"},
		{"deeper under a ref", []string{"datasets/a"}, "datasets/a/b/c", "datasets/a"},
		{"prefix of a ref", []string{"datasets/a/b"}, "datasets/a", "datasets/a/b"},
		{"prefix of a deep ref", []string{"aliases/m/x/y"}, "aliases/m", "aliases/m/x/y"},
		{"sibling", []string{"datasets/a"}, "datasets/ab", ""},
		{"sibling dir", []string{"datasets/a/b"}, "datasets/a/c", ""},
		{"same name moves", []string{"models/m"}, "models/m", ""},
		{"other namespace", []string{"models/m"}, "aliases/m/production", ""},
		{"model beside its alias", []string{"aliases/m/production"}, "models/m", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := Open(dir)
			for _, n := range tc.existing {
				if err := s.CompareAndSwap(ctx, n, objects.ID{}, tstID(n)); err != nil {
					t.Fatal(err)
				}
			}
			old, _ := s.Get(tc.ref)
			err := s.CompareAndSwap(ctx, tc.ref, old, tstID("new"))
			if tc.conflict == "" {
				if err != nil {
					t.Fatalf("CompareAndSwap(%s): %v", tc.ref, err)
				}
				return
			}
			var ne *NameConflictError
			if !errors.As(err, &ne) || !errors.Is(err, ErrNameConflict) || ne.Existing != tc.conflict ||
				!strings.Contains(err.Error(), tc.conflict) {
				t.Fatalf("CompareAndSwap(%s) = %v, want a conflict with %s", tc.ref, err, tc.conflict)
			}
			if err := s.CheckName(tc.ref); !errors.Is(err, ErrNameConflict) {
				t.Fatalf("CheckName(%s) = %v", tc.ref, err)
			}
			// Nothing written: the refs are those there were.
			names, _, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(names, ",") != strings.Join(tc.existing, ",") {
				t.Fatalf("refs after the refusal: %v, want %v", names, tc.existing)
			}
		})
	}
}

// TestNameConflictEmptyDir: the empty directories a deleted ref leaves
// do not block its prefix.
func TestNameConflictEmptyDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := Open(dir)
	if err := s.CompareAndSwap(ctx, "runs/a/b", objects.ID{}, tstID("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.CompareAndSwap(ctx, "runs/a/b", tstID("x"), objects.ID{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CompareAndSwap(ctx, "runs/a", objects.ID{}, tstID("y")); err != nil {
		t.Fatalf("after deleting runs/a/b: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "a")); err != nil {
		t.Fatal(err)
	}
}
