package testscripts

import "github.com/rogpeppe/go-internal/testscript"

func cmdKubeFake(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("kubefake: not yet")
}
