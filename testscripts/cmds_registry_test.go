package testscripts

import (
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/dv-ml/dv/objects"
)

// cmdEditObject: editobject STOREDIR ID flips one byte in the middle of
// the stored bytes of object ID in its pack (an edit on disk), leaving
// the pack's trailer and index as they were.
func cmdEditObject(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: editobject STOREDIR ID")
	}
	dir := ts.MkAbs(args[0])
	s, err := objects.Open(dir)
	ts.Check(err)
	id, err := s.Resolve(args[1])
	ts.Check(err)
	l, ok := s.Lookup(id)
	if !ok {
		ts.Fatalf("editobject: %s is not in %s", args[1], dir)
	}
	ts.Check(s.Close())
	pack := filepath.Join(dir, objects.PacksDir, l.Pack.String())
	b, err := os.ReadFile(pack)
	ts.Check(err)
	b[l.Offset+uint64(l.Length)/2] ^= 0x01
	fi, err := os.Stat(pack)
	ts.Check(err)
	ts.Check(os.Chmod(pack, 0o644))
	ts.Check(os.WriteFile(pack, b, 0o644))
	ts.Check(os.Chmod(pack, fi.Mode()))
}
