package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
)

// pythonProbe prints the interpreter, its version and every installed
// distribution as "name==version" (the first one found on sys.path for
// each normalised name, as pip freeze lists them), from the interpreter's
// own importlib.metadata.
const pythonProbe = `import json, re, sys
pk = {}
try:
    from importlib import metadata
    for d in metadata.distributions():
        n = d.metadata["Name"]
        if not n:
            continue
        k = re.sub(r"[-_.]+", "-", n).lower()
        if k not in pk:
            pk[k] = "%s==%s" % (n, d.version)
except Exception:
    pass
print(json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % tuple(sys.version_info[:3]),
                  "packages": [pk[k] for k in sorted(pk)]}))
`

// pythonTimeout bounds the package probe (importlib reads every
// distribution's metadata: big environments take a moment).
const pythonTimeout = 20 * time.Second

var pythonName = regexp.MustCompile(`^python(\d+(\.\d+)*)?$`)

// PythonInterpreter returns the interpreter of a Python command: argv[0]
// when it is python, python3, python3.12, ..., or the interpreter a
// script's "#!" line names; "" when the command is not Python. Relative
// paths are resolved in dir.
func PythonInterpreter(dir string, argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	if pythonName.MatchString(filepath.Base(argv[0])) {
		return argv[0]
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return ""
		}
		path = p
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" || !strings.HasPrefix(line, "#!") {
		return ""
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		return ""
	}
	interp := fields[0]
	if filepath.Base(interp) == "env" {
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f, "-") {
				interp = f
				break
			}
		}
	}
	if !pythonName.MatchString(filepath.Base(interp)) {
		return ""
	}
	return interp
}

// capturePython asks interp (run in dir with env added to the process's
// environment, as the command runs) for its executable, version and
// installed distributions. It returns the description and the package
// list ("name==version" lines), or nil when the interpreter cannot say.
func capturePython(ctx context.Context, dir, interp string, env []string) (*lineage.PythonEnv, []byte) {
	ctx, cancel := context.WithTimeout(ctx, pythonTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, interp, "-c", pythonProbe)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil, nil
	}
	var got struct {
		Executable string   `json:"executable"`
		Version    string   `json:"version"`
		Packages   []string `json:"packages"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.Executable == "" {
		return nil, nil
	}
	var list bytes.Buffer
	for _, p := range got.Packages {
		list.WriteString(p + "\n")
	}
	return &lineage.PythonEnv{Executable: got.Executable, Version: got.Version, Count: len(got.Packages)}, list.Bytes()
}

// captureGPUs lists the GPUs nvidia-smi reports (none without it).
func captureGPUs(ctx context.Context) []lineage.Accelerator {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	q, err := exec.CommandContext(ctx, path, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader").Output()
	if err != nil {
		return nil
	}
	cuda := ""
	if head, err := exec.CommandContext(ctx, path).Output(); err == nil {
		if m := regexp.MustCompile(`CUDA Version:\s*([0-9.]+)`).FindSubmatch(head); m != nil {
			cuda = string(m[1])
		}
	}
	return parseGPUs(string(q), cuda)
}

func parseGPUs(csv, cuda string) []lineage.Accelerator {
	var out []lineage.Accelerator
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 2 || strings.TrimSpace(f[0]) == "" {
			continue
		}
		a := lineage.Accelerator{Name: strings.TrimSpace(f[0]), Driver: strings.TrimSpace(f[1]), CUDA: cuda}
		if len(f) > 2 {
			a.Memory = strings.TrimSpace(f[2])
		}
		out = append(out, a)
	}
	return out
}

// ImageEnv is the environment variable through which a job's container
// names its image (set by dv in the Kubernetes Job it submits).
const ImageEnv = "DV_IMAGE"

// containerImage returns the image a run runs in: DV_IMAGE when set, else
// what podman writes to /run/.containerenv ("" outside a container).
func containerImage() string {
	if img := os.Getenv(ImageEnv); img != "" {
		return img
	}
	b, err := os.ReadFile("/run/.containerenv")
	if err != nil {
		return ""
	}
	var name, id string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		switch k {
		case "image":
			name = v
		case "imageid":
			id = v
		}
	}
	switch {
	case name != "" && id != "":
		return name + "@sha256:" + strings.TrimPrefix(id, "sha256:")
	case name != "":
		return name
	}
	return ""
}

// RunEnv is a run's environment and the package list its record names.
type RunEnv struct {
	Env      *lineage.Env
	Packages []byte // "name==version" lines of a Python command's interpreter; nil when none
}

// CaptureRunEnv is CaptureEnv for the command argv about to run in root
// with env added: for a Python command it adds the interpreter and its
// installed distributions, and everywhere the GPUs (nvidia-smi) and the
// container image.
func CaptureRunEnv(ctx context.Context, root string, argv, env []string, extra map[string]string) RunEnv {
	var re RunEnv
	done := make(chan struct{})
	var py *lineage.PythonEnv
	go func() {
		defer close(done)
		if interp := PythonInterpreter(root, argv); interp != "" {
			py, re.Packages = capturePython(ctx, root, interp, env)
		}
	}()
	re.Env = CaptureEnv(ctx, root, extra)
	re.Env.Accelerators = captureGPUs(ctx)
	re.Env.Image = containerImage()
	<-done
	re.Env.Python = py
	return re
}
