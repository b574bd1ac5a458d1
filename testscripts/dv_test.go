// Package testscripts runs dv's command line end to end: each
// testdata/*.txtar script drives the real dv binary (this test binary,
// re-executed as "dv") and real git in a scratch directory.
//
// Besides testscript's built-in commands, scripts may use:
//
//	exitcode N PROG ARGS...  run PROG, require exit status N
//	errline [REGEXP]         stderr is one line "dv: ...", no panic
//	errlines N               stderr is N lines, each "dv: ..."
//	validjson [object|array] stdout is exactly one JSON value
//	gendata DIR N [SEED]     write N deterministic files of mixed sizes
//	flipbyte FILE OFFSET     invert one byte (FILE may be a 1-match glob)
//	cpdir SRC DST            copy a tree, keeping exec bits and symlinks
//	cmpdir A B               compare two trees byte for byte
//	grab VAR REGEXP          set VAR from a submatch of stdout
//
// and the condition [tool:PROG]: PROG is installed (with DV_REQUIRE_TOOLS
// set, a missing PROG fails the script instead).
//
// Run with -update to rewrite the expected output inside scripts:
// go test ./testscripts/ -update.
package testscripts

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/dv-ml/dv/cmd/dvcli"
)

var update = flag.Bool("update", false, "rewrite the expected output in scripts whose cmp fails")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"dv": func() { os.Exit(dvcli.Main()) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, withCompute(withRemote(testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *update,
		Setup:               setup,
		Condition:           toolCondition,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exitcode":   cmdExitcode,
			"errline":    cmdErrline,
			"errlines":   cmdErrlines,
			"validjson":  cmdValidJSON,
			"gendata":    cmdGendata,
			"flipbyte":   cmdFlipbyte,
			"cpdir":      cmdCpdir,
			"cmpdir":     cmdCmpdir,
			"grab":       cmdGrab,
			"webhook":    cmdWebhook,
			"driftdata":  cmdDriftdata,
			"editobject": cmdEditObject,
		},
	})))
}

// setup gives each script its own HOME, git identity and default branch,
// so neither the machine's git configuration nor its caches leak in.
func setup(e *testscript.Env) error {
	home := filepath.Join(e.WorkDir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	gitconfig := "[init]\n\tdefaultBranch = main\n[user]\n\tname = dv test\n\temail = dv@example.com\n" +
		"[advice]\n\tdetachedHead = false\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(gitconfig), 0o644); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"HOME":                home,
		"XDG_CONFIG_HOME":     filepath.Join(home, ".config"),
		"XDG_CACHE_HOME":      filepath.Join(home, ".cache"),
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_AUTHOR_NAME":     "dv test",
		"GIT_AUTHOR_EMAIL":    "dv@example.com",
		"GIT_COMMITTER_NAME":  "dv test",
		"GIT_COMMITTER_EMAIL": "dv@example.com",
		"NO_COLOR":            "1",
	} {
		e.Setenv(k, v)
	}
	return nil
}

// exitcode N PROG ARGS... runs PROG and fails unless it exits with
// status N. Its stdout and stderr are kept for stdout/stderr checks.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode (name the code instead)")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// errline [REGEXP] checks that the last command's stderr is exactly one
// line, that it begins "dv: ", shows no sign of a panic, and (if given)
// matches REGEXP. With !, it checks that stderr is empty.
func cmdErrline(ts *testscript.TestScript, neg bool, args []string) {
	stderr := ts.ReadFile("stderr")
	if neg {
		if len(args) > 0 {
			ts.Fatalf("usage: ! errline")
		}
		if stderr != "" {
			ts.Fatalf("stderr is not empty:\n%s", stderr)
		}
		return
	}
	if len(args) > 1 {
		ts.Fatalf("usage: errline [regexp]")
	}
	if !strings.HasSuffix(stderr, "\n") || strings.Count(stderr, "\n") != 1 {
		ts.Fatalf("stderr is not exactly one line:\n%s", stderr)
	}
	if !strings.HasPrefix(stderr, "dv: ") {
		ts.Fatalf("stderr does not begin with %q: %q", "dv: ", stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		ts.Fatalf("stderr shows a panic: %q", stderr)
	}
	if len(args) == 1 {
		re, err := regexp.Compile(args[0])
		ts.Check(err)
		if !re.MatchString(stderr) {
			ts.Fatalf("stderr %q does not match %q", stderr, args[0])
		}
	}
}

// errlines N checks that the last command's stderr is N lines, each
// beginning "dv: ", with no sign of a panic.
func cmdErrlines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: errlines N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	stderr := ts.ReadFile("stderr")
	lines := strings.SplitAfter(stderr, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) != n {
		ts.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), n, stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "dv: ") || !strings.HasSuffix(l, "\n") {
			ts.Fatalf("stderr line does not begin %q: %q", "dv: ", l)
		}
		if strings.Contains(l, "panic") || strings.Contains(l, "goroutine ") {
			ts.Fatalf("stderr shows a panic: %q", l)
		}
	}
}

// validjson [object|array] checks that the last command's stdout is
// exactly one JSON value, of the given kind if one is named.
func cmdValidJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: validjson [object|array]")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile("stdout")))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		ts.Fatalf("stdout holds more than one JSON value")
	}
	if len(args) == 0 {
		return
	}
	switch args[0] {
	case "object":
		if _, ok := v.(map[string]any); !ok {
			ts.Fatalf("stdout is JSON but not an object")
		}
	case "array":
		if _, ok := v.([]any); !ok {
			ts.Fatalf("stdout is JSON but not an array")
		}
	default:
		ts.Fatalf("validjson: want object or array, not %q", args[0])
	}
}

// gendata DIR N [SEED] writes N files below DIR with deterministic
// pseudo-random sizes and contents. Names are predictable so scripts can
// name files: file i is fNNNN (four digits) with the suffix "-naïve.csv"
// when i%8 == 0, ".csv" when i%8 is 1 to 3 and ".bin" otherwise, in
// directory genDirs[i%6] (nested, some non-ASCII). CSV files hold text
// that compresses, .bin files random bytes. Most files are under 4 KiB,
// about one in ten is tens of KiB, and f0000-naïve.csv, f0006.bin and
// about one in fifty others are multi-chunk files of 1 to 3 MiB. File i
// is executable when i%20 == 19. SEED (default 1) changes sizes and
// contents, not names.
func cmdGendata(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: gendata DIR N [SEED]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	seed := uint64(1)
	if len(args) == 3 {
		seed, err = strconv.ParseUint(args[2], 10, 64)
		ts.Check(err)
	}
	root := ts.MkAbs(args[0])
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	words := []string{"wheat", "barley", "soil", "gps", "yield", "field", "rain", "nitrogen", "ph", "é"}
	for i := range n {
		name := fmt.Sprintf("f%04d", i)
		switch i % 8 {
		case 0:
			name += "-naïve.csv"
		case 1, 2, 3:
			name += ".csv"
		default:
			name += ".bin"
		}
		var size int
		switch r := rng.IntN(100); {
		case i == 0 || i == 6 || r < 2:
			size = 1<<20 + rng.IntN(2<<20) // several chunks
		case r < 12:
			size = 16<<10 + rng.IntN(100<<10)
		default:
			size = rng.IntN(4 << 10)
		}
		buf := make([]byte, 0, size)
		if strings.HasSuffix(name, ".csv") {
			for len(buf) < size {
				buf = fmt.Appendf(buf, "%d,%s,%.3f\n", rng.IntN(1e6), words[rng.IntN(len(words))], rng.Float64()*100)
			}
			buf = buf[:size]
		} else {
			for len(buf) < size {
				buf = append(buf, byte(rng.Uint32()))
			}
		}
		p := filepath.Join(root, filepath.FromSlash(genDirs[i%len(genDirs)]), name)
		ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
		mode := os.FileMode(0o644)
		if i%20 == 19 {
			mode = 0o755
		}
		ts.Check(os.WriteFile(p, buf, mode))
		ts.Check(os.Chmod(p, mode)) // not subject to umask
	}
}

// genDirs are the directories gendata spreads files over.
var genDirs = []string{".", "train", "test", "train/ünïcode", "train/日本語", "test/deep/er/still"}

// flipbyte FILE OFFSET inverts the byte at OFFSET (negative: from the
// end) of FILE. FILE may be a glob pattern matching exactly one file.
func cmdFlipbyte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	matches, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(matches) != 1 {
		ts.Fatalf("flipbyte: %s matches %d files, want 1", args[0], len(matches))
	}
	off, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	b, err := os.ReadFile(matches[0])
	ts.Check(err)
	if off < 0 {
		off += int64(len(b))
	}
	if off < 0 || off >= int64(len(b)) {
		ts.Fatalf("flipbyte: offset %s outside %s (%d bytes)", args[1], args[0], len(b))
	}
	b[off] ^= 0xff
	fi, err := os.Stat(matches[0])
	ts.Check(err)
	ts.Check(os.WriteFile(matches[0], b, fi.Mode()))
}

// grab VAR REGEXP sets VAR to the first submatch of REGEXP in the last
// command's stdout (or the whole match when REGEXP has no group).
func cmdGrab(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: grab VAR REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("grab: %q does not match stdout", args[1])
	}
	ts.Setenv(args[0], m[len(m)-1])
}

// node is one entry of a directory tree as cmpdir sees it.
type node struct {
	kind   string // "file", "dir" or "symlink"
	exec   bool
	data   []byte // file content or link target
	exists bool
}

func snapshotTree(root string) (map[string]node, error) {
	out := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		n := node{exists: true}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			n.kind, n.data = "symlink", []byte(t)
		case fi.IsDir():
			n.kind = "dir"
		case fi.Mode().IsRegular():
			n.kind, n.exec = "file", fi.Mode()&0o100 != 0
			if n.data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: special file", p)
		}
		out[filepath.ToSlash(rel)] = n
		return nil
	})
	return out, err
}

// cmpdir A B compares two directory trees: the same names, types, file
// contents, executable bits and symlink targets, empty directories
// included.
func cmpdir(a, b string) []string {
	ta, err := snapshotTree(a)
	if err != nil {
		return []string{err.Error()}
	}
	tb, err := snapshotTree(b)
	if err != nil {
		return []string{err.Error()}
	}
	names := map[string]bool{}
	for k := range ta {
		names[k] = true
	}
	for k := range tb {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, k := range sorted {
		x, y := ta[k], tb[k]
		switch {
		case !x.exists:
			diffs = append(diffs, fmt.Sprintf("%s: only in %s", k, b))
		case !y.exists:
			diffs = append(diffs, fmt.Sprintf("%s: only in %s", k, a))
		case x.kind != y.kind:
			diffs = append(diffs, fmt.Sprintf("%s: %s vs %s", k, x.kind, y.kind))
		case x.exec != y.exec:
			diffs = append(diffs, fmt.Sprintf("%s: exec bit %v vs %v", k, x.exec, y.exec))
		case !bytes.Equal(x.data, y.data):
			diffs = append(diffs, fmt.Sprintf("%s: %s differs", k, x.kind))
		}
	}
	return diffs
}

func cmdCmpdir(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpdir DIR1 DIR2")
	}
	diffs := cmpdir(ts.MkAbs(args[0]), ts.MkAbs(args[1]))
	if neg {
		if len(diffs) == 0 {
			ts.Fatalf("%s and %s are the same", args[0], args[1])
		}
		return
	}
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("... and %d more", len(diffs)-20))
		}
		ts.Fatalf("%s and %s differ:\n%s", args[0], args[1], strings.Join(diffs, "\n"))
	}
}

// cpdir SRC DST copies a directory tree, keeping executable bits and
// symlinks (not following them). DST must not exist.
func cmdCpdir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cpdir SRC DST")
	}
	src, dst := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	if _, err := os.Lstat(dst); err == nil {
		ts.Fatalf("cpdir: %s exists", args[1])
	}
	ts.Check(filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, to)
		case fi.IsDir():
			return os.Mkdir(to, 0o755)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(to, fi.Mode().Perm())
		}
	}))
}
