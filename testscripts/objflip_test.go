package testscripts

import (
	"os"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/dv-ml/dv/objects"
)

// cmdObjFlip implements `objflip ID`: it flips one byte in the middle of
// object ID's stored bytes in the project's store (.dv), whatever pack
// holds it, so a script can damage one chosen object (a record, a tree).
func cmdObjFlip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: objflip ID")
	}
	s, err := objects.Open(ts.MkAbs(".dv"))
	ts.Check(err)
	defer s.Close()
	id, err := s.Resolve(args[0])
	ts.Check(err)
	l, ok := s.Lookup(id)
	if !ok {
		ts.Fatalf("objflip: %s not in the store", args[0])
	}
	p := s.PackPath(l.Pack)
	ts.Check(os.Chmod(p, 0o644))
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	b := make([]byte, 1)
	off := int64(l.Offset) + int64(l.Length)/2
	_, err = f.ReadAt(b, off)
	ts.Check(err)
	b[0] ^= 0x20
	_, err = f.WriteAt(b, off)
	ts.Check(err)
}
