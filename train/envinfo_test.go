package train

import (
	"bufio"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

func TestCaptureEnv(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{"go.sum": "x v1 h1:abc\n", "requirements.txt": "numpy==2.0\n", "README.md": "no"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "uv.lock"), 0o755); err != nil { // not a file: skipped
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // no go, no python3
	e := CaptureEnv(t.Context(), root, map[string]string{"dv": "1.2.3"})
	if e.OS != runtime.GOOS || e.Arch != runtime.GOARCH || e.CPUs != runtime.NumCPU() {
		t.Fatalf("env %+v", e)
	}
	if len(e.Versions) != 1 || e.Versions["dv"] != "1.2.3" {
		t.Fatalf("missing tools must be left out: %v", e.Versions)
	}
	sum := blake3.Sum256([]byte("x v1 h1:abc\n"))
	if len(e.LockFiles) != 2 || e.LockFiles["go.sum"] != hex.EncodeToString(sum[:]) || e.LockFiles["requirements.txt"] == "" {
		t.Fatalf("lock files %v", e.LockFiles)
	}
}

func TestCaptureEnvVersions(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'Python 3.12.4'\n"
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	script = "#!/bin/sh\necho 'go version go1.26.8 linux/amd64'\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+"/bin:/usr/bin")
	e := CaptureEnv(t.Context(), t.TempDir(), nil)
	if e.Versions["python"] != "3.12.4" || e.Versions["go"] != "1.26.8" {
		t.Fatalf("versions %v", e.Versions)
	}
	if e.LockFiles != nil {
		t.Fatalf("no lock files: %v", e.LockFiles)
	}
}

func TestParseCPUInfo(t *testing.T) {
	t.Parallel()
	x86 := "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
	arm := "processor\t: 0\nBogoMIPS\t: 48.00\nHardware\t: BCM2835\n"
	for in, want := range map[string]string{x86: "Intel(R) Xeon(R) CPU @ 2.20GHz", arm: "BCM2835", "": ""} {
		if got := parseCPUInfo(bufio.NewScanner(strings.NewReader(in))); got != want {
			t.Errorf("parseCPUInfo = %q, want %q", got, want)
		}
	}
}
