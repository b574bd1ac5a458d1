package train

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

func TestCacheKey(t *testing.T) {
	t.Parallel()
	d1 := objects.Hash(objects.TypeBlob, []byte("one"))
	d2 := objects.Hash(objects.TypeBlob, []byte("two"))
	base := KeyInput{
		Command: []string{"python3", "train.py"},
		Params:  map[string]string{"lr": "0.1", "depth": "3"},
		Inputs:  []lineage.IO{{Path: "data/a", Data: d1}, {Path: "data/b", Data: d2}},
		Outputs: []string{"out/x", "out/y"},
		Code:    &CodeState{Digest: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
	}
	key := CacheKey(base)
	// Pinned: the key of a recorded run must not change between releases,
	// or every run cache entry is lost. Change cacheKeyVersion (and this
	// value) only on purpose.
	const pinned = "c6a6fdd608195f7a9e7e52410b5aa68d238c9ddd115cb4cc2add67ba7e3bf79e"
	if key != pinned {
		t.Fatalf("CacheKey changed: %s", key)
	}

	same := base
	same.Params = map[string]string{"depth": "3", "lr": "0.1"}
	same.Inputs = []lineage.IO{{Path: "data/b", Data: d2}, {Path: "data/a", Data: d1, Record: d2}}
	same.Outputs = []string{"out/y", "out/x"}
	if got := CacheKey(same); got != key {
		t.Fatalf("order or input records changed the key")
	}
	for name, change := range map[string]func(k *KeyInput){
		"argv":        func(k *KeyInput) { k.Command = []string{"python3", "train.py", "--fast"} },
		"argv split":  func(k *KeyInput) { k.Command = []string{"python3 train.py"} },
		"param value": func(k *KeyInput) { k.Params = map[string]string{"lr": "0.2", "depth": "3"} },
		"param added": func(k *KeyInput) { k.Params = map[string]string{"lr": "0.1", "depth": "3", "x": ""} },
		"input data":  func(k *KeyInput) { k.Inputs = []lineage.IO{{Path: "data/a", Data: d2}, {Path: "data/b", Data: d2}} },
		"input path":  func(k *KeyInput) { k.Inputs = []lineage.IO{{Path: "data/c", Data: d1}, {Path: "data/b", Data: d2}} },
		"outputs":     func(k *KeyInput) { k.Outputs = []string{"out/x"} },
		"model":       func(k *KeyInput) { k.Model = "clf\x00metrics.json" },
		"code":        func(k *KeyInput) { k.Code = &CodeState{Digest: "00"} },
		"arg file": func(k *KeyInput) {
			k.Code = &CodeState{Digest: base.Code.Digest, Args: map[string]string{"t.py": "ab"}}
		},
	} {
		k := base
		change(&k)
		if CacheKey(k) == key {
			t.Errorf("%s: key did not change", name)
		}
	}
}

func TestReadCodeState(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	t.Setenv("HOME", t.TempDir())
	root := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(rel, s string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := func(argv ...string) string {
		t.Helper()
		cs, err := ReadCodeState(t.Context(), root, argv, []string{"model", "metrics.json"})
		if err != nil {
			t.Fatal(err)
		}
		return CacheKey(KeyInput{Code: cs})
	}
	git("init", "-q")
	// Before the first commit, staged files are the code.
	write("train.py", "print(1)\n")
	git("add", "train.py")
	staged := key("python3", "train.py")
	write(".gitignore", "/data\n")
	write("data.dv", "x")
	git("add", "-A")
	git("commit", "-qm", "x")
	clean := key("python3", "train.py")
	if clean != staged {
		t.Fatal("committing a pointer file and .gitignore changed the key")
	}
	// What dv and the run write does not count: pointers, .gitignore,
	// outputs and the metrics file, committed or not, and untracked files.
	write(".gitignore", "/data\n/model\n")
	write("model.dv", "y")
	write("metrics.json", "{}")
	write("model/w.bin", "w")
	write("plot.png", "p")
	write(".dv/tmp/x", "x")
	if key("python3", "train.py") != clean {
		t.Fatal("files the run writes changed the key")
	}
	if err := os.Remove(filepath.Join(root, "plot.png")); err != nil {
		t.Fatal(err)
	}
	git("add", "-A")
	git("commit", "-qm", "results")
	write("metrics.json", "{\"a\": 1}")
	if key("python3", "train.py") != clean {
		t.Fatal("committed results changed the key")
	}
	// An edit to tracked code does, staged, committed or not.
	write("train.py", "print(2)\n")
	edited := key("python3", "train.py")
	if edited == clean {
		t.Fatal("an edit to train.py did not change the key")
	}
	git("add", "train.py")
	if key("python3", "train.py") != edited {
		t.Fatal("staging an edit changed the key")
	}
	git("commit", "-qm", "v2")
	if key("python3", "train.py") != edited {
		t.Fatal("committing an edit changed the key")
	}
	// A script named on the command line counts even when git does not
	// track it.
	write("new.py", "a")
	before := key("python3", "--script=new.py")
	write("new.py", "b")
	if key("python3", "--script=new.py") == before {
		t.Fatal("an edit to an untracked script named in argv did not change the key")
	}
	// In a subdirectory project, paths are relative to it and code outside
	// it does not count.
	write("sub/code.py", "1")
	git("add", "-A")
	cs, err := ReadCodeState(t.Context(), filepath.Join(root, "sub"), nil, nil)
	if err != nil || cs.Files != 1 {
		t.Fatalf("subdirectory: %+v %v", cs, err)
	}
	// Outside git the code state is unknown.
	if _, err := ReadCodeState(t.Context(), t.TempDir(), nil, nil); err != ErrNoCodeState {
		t.Fatalf("outside git: err = %v", err)
	}
}
