package objects

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Helpers shared by the unit tests of this package. Their names start with
// "tst" so that they cannot clash with helpers in other test files.

// tstRand returns n pseudo-random bytes, the same for the same seed.
func tstRand(seed uint64, n int) []byte {
	var key [32]byte
	for i := 0; i < 8; i++ {
		key[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// tstStore returns an initialised, open store in a fresh directory.
func tstStore(t testing.TB) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// tstReopen opens a second Store on dir.
func tstReopen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// tstPut stores each object through one writer and flushes it, so all of
// them land in one pack. It returns their ids in order.
func tstPut(t testing.TB, s *Store, typ Type, datas ...[]byte) []ID {
	t.Helper()
	ctx := context.Background()
	w := s.NewWriter()
	ids := make([]ID, len(datas))
	for i, d := range datas {
		id, err := w.Put(ctx, typ, d)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

// tstLoad loads id and fails the test unless it holds want.
func tstLoad(t testing.TB, s *Store, id ID, wantType Type, want []byte) {
	t.Helper()
	typ, got, err := s.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("load %s: %v", id.Short(), err)
	}
	if typ != wantType || string(got) != string(want) {
		t.Fatalf("load %s: got %s of %d bytes, want %s of %d bytes", id.Short(), typ, len(got), wantType, len(want))
	}
}

// tstFiles lists the names of the files in dir/sub.
func tstFiles(t testing.TB, dir, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// tstCheck runs Check and returns the problems it reported.
func tstCheck(t testing.TB, s *Store) ([]*CorruptError, CheckStats) {
	t.Helper()
	var bad []*CorruptError
	st, err := s.Check(context.Background(), func(e *CorruptError) { bad = append(bad, e) })
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return bad, st
}

// tstMustCheckClean fails the test if Check reports any problem.
func tstMustCheckClean(t testing.TB, s *Store) CheckStats {
	t.Helper()
	bad, st := tstCheck(t, s)
	for _, b := range bad {
		t.Errorf("check reported: %v", b)
	}
	return st
}
