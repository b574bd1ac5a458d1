package train

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/lineage"
)

// LockFiles are the dependency lock files whose hashes a run records when
// they are at the project root.
var LockFiles = []string{"go.sum", "requirements.txt", "uv.lock", "poetry.lock", "Pipfile.lock", "package-lock.json"}

// versionProbes are the tools whose versions a run records, and how to ask.
var versionProbes = []struct {
	name string
	argv []string
	re   *regexp.Regexp
}{
	{"go", []string{"go", "version"}, regexp.MustCompile(`\bgo(\d+\.\d+(?:\.\d+)?\S*)`)},
	{"python", []string{"python3", "--version"}, regexp.MustCompile(`Python (\d+\.\d+(?:\.\d+)?\S*)`)},
}

// probeTimeout bounds each version probe.
const probeTimeout = 3 * time.Second

// CaptureEnv describes the machine a run runs on: OS, architecture, CPU
// model and count, the versions of Go and Python found on PATH (missing
// ones are left out) and the BLAKE3 hashes of lock files at root. Extra
// versions (such as dv's own) are added as given.
func CaptureEnv(ctx context.Context, root string, extra map[string]string) *lineage.Env {
	e := &lineage.Env{OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(), CPUs: runtime.NumCPU()}
	versions := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range versionProbes {
		wg.Go(func() {
			if v := probeVersion(ctx, p.argv, p.re); v != "" {
				mu.Lock()
				versions[p.name] = v
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for k, v := range extra {
		versions[k] = v
	}
	if len(versions) > 0 {
		e.Versions = versions
	}
	e.LockFiles = hashLockFiles(root)
	return e
}

func probeVersion(ctx context.Context, argv []string, re *regexp.Regexp) string {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return ""
	}
	m := re.FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// cpuModel reads the CPU model from /proc/cpuinfo ("" where there is none).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseCPUInfo(bufio.NewScanner(f))
}

func parseCPUInfo(sc *bufio.Scanner) string {
	var fallback string
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "Hardware", "cpu model", "Processor":
			if fallback == "" {
				fallback = v
			}
		}
	}
	return fallback
}

// hashLockFiles returns the BLAKE3 hashes (hex) of the lock files at root.
func hashLockFiles(root string) map[string]string {
	out := map[string]string{}
	for _, name := range LockFiles {
		sum, err := hashFile(filepath.Join(root, name))
		if err == nil {
			out[name] = sum
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// hashFile returns the hex BLAKE3-256 of a file's content.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", os.ErrInvalid
	}
	h := blake3.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
