package workspace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddIgnore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rel  string
		file string // the .gitignore written, relative to the root
		line string
	}{
		{"top level", "data", ".gitignore", "/data"},
		{"nested", "a/b/model.bin", "a/b/.gitignore", "/model.bin"},
		{"space inside", "my data", ".gitignore", "/my data"},
		{"trailing space", "trail ", ".gitignore", `/trail\ `},
		{"star", "*star", ".gitignore", `/\*star`},
		{"question and brackets", "q?[x]", ".gitignore", `/q\?\[x\]`},
		{"backslash", `back\slash`, ".gitignore", `/back\\slash`},
		{"leading hash", "#hash", ".gitignore", `/\#hash`},
		{"inner hash", "a#b", ".gitignore", "/a#b"},
		{"leading bang", "!bang", ".gitignore", `/\!bang`},
		{"inner bang", "a!b", ".gitignore", "/a!b"},
		{"unicode", "日本語 ü", ".gitignore", "/日本語 ü"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(tc.file)), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if err := AddIgnore(root, tc.rel); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(filepath.Join(root, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.line+"\n" {
				t.Fatalf("%s = %q, want %q once", tc.file, b, tc.line+"\n")
			}
		})
	}
}

func TestAddIgnoreKeepsExistingLines(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	gi := filepath.Join(root, ".gitignore")
	if err := os.WriteFile(gi, []byte("# mine\n*.log\n  /data  \nnode_modules"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"data", "model", "model"} {
		if err := AddIgnore(root, rel); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(gi)
	if err != nil {
		t.Fatal(err)
	}
	if want := "# mine\n*.log\n  /data  \nnode_modules\n/model\n"; string(b) != want {
		t.Fatalf(".gitignore = %q, want %q", b, want)
	}
}

// TestAddIgnoreWithGit checks the written patterns with git itself: each
// tracked name is ignored, and a look-alike name is not.
func TestAddIgnoreWithGit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required for this test")
	}
	tests := []struct {
		name      string
		lookalike string
	}{
		{"plain", "plain2"},
		{"*star", "xstar"},
		{"q?[x]", "qa[x]"},
		{"[ab]", "a"},
		{`back\slash`, "backslash"},
		{"#hash", "hash"},
		{"!bang", "bang"},
		{"trail ", "trail"},
		{"two  ", "two "},
		{"my data", "my"},
		{"日本語", "日本"},
	}
	root := t.TempDir()
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", append([]string{"-c", "core.quotePath=false"}, args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+root)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := git("init", "-q"); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	for _, tc := range tests {
		tstWrite(t, root, "sub/"+tc.name, []byte("x"), 0o644)
		tstWrite(t, root, "sub/"+tc.lookalike, []byte("y"), 0o644)
		if err := AddIgnore(root, "sub/"+tc.name); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range tests {
		if out, err := git("check-ignore", "-q", "--no-index", "sub/"+tc.name); err != nil {
			t.Errorf("git does not ignore %q: %v %s", tc.name, err, out)
		}
		if out, err := git("check-ignore", "--no-index", "-v", "sub/"+tc.lookalike); err == nil {
			t.Errorf("git ignores the look-alike %q of %q: %s", tc.lookalike, tc.name, strings.TrimSpace(out))
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(filepath.Join(root, "sub", ".gitignore"))
		t.Logf("sub/.gitignore:\n%s", b)
	}
}
