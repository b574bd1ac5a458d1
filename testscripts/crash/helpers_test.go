package crash

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects"
)

// ---- running processes ----

// res is the outcome of a process that ran to its end.
type res struct {
	args   []string
	code   int // exit code; -1 when killed by a signal
	stdout string
	stderr string
	dur    time.Duration
}

func (r res) String() string {
	return fmt.Sprintf("%s: exit %d after %v\nstdout: %s\nstderr: %s",
		strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond),
		clip(r.stdout), clip(r.stderr))
}

// clip keeps the first lines of a command's output.
func clip(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 8 {
		lines = append(lines[:8], fmt.Sprintf("... (%d more lines)", len(lines)-8))
	}
	return strings.Join(lines, "\n")
}

// childEnv is the environment of every child process: git and dv see no
// user or system configuration.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+homeDir,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=crash", "GIT_AUTHOR_EMAIL=crash@example.invalid",
		"GIT_COMMITTER_NAME=crash", "GIT_COMMITTER_EMAIL=crash@example.invalid",
		"NO_COLOR=1",
	)
}

func command(dir, name string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -2
}

func runIn(dir, name string, args ...string) res {
	cmd, out, errb := command(dir, name, args...)
	start := time.Now()
	err := cmd.Run()
	r := res{args: append([]string{filepath.Base(name)}, args...), code: exitCode(err),
		stdout: out.String(), stderr: errb.String(), dur: time.Since(start)}
	if r.code == -2 {
		r.stderr += "\n(harness) " + err.Error()
	}
	return r
}

// dv runs the dv binary in dir.
func dv(dir string, args ...string) res { return runIn(dir, dvBin, args...) }

// mustDV runs dv and fails the test unless it exits 0.
func mustDV(t testing.TB, dir string, args ...string) res {
	t.Helper()
	r := dv(dir, args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return r
}

// mustGit runs git and fails the test unless it exits 0.
func mustGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	r := runIn(dir, "git", args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	return strings.TrimSpace(r.stdout)
}

// killPlan says when to SIGKILL a process: after delay, or (event > 0) just
// after the event-th change that the watcher observes, plus jitter.
type killPlan struct {
	delay  time.Duration
	event  int
	jitter time.Duration
	never  bool // calibration: let it finish, count events
}

func (p killPlan) String() string {
	switch {
	case p.never:
		return "no kill"
	case p.event > 0:
		return fmt.Sprintf("at change #%d +%v", p.event, p.jitter)
	}
	return fmt.Sprintf("after %v", p.delay.Round(100*time.Microsecond))
}

// outcome is what happened to a process run under a killPlan.
type outcome struct {
	res
	killed bool // died of our SIGKILL: the kill landed mid-run
	events int  // changes the watcher saw before the process ended
}

// runKilled starts dv with args in dir and kills it as plan says. Events
// are the changes watch describes (nil: none are counted); they are
// counted while the process runs, and an event plan kills at one of them.
func runKilled(dir string, plan killPlan, watch *watchSpec, args ...string) outcome {
	return runKilledGroup(dir, plan, watch, false, args...)
}

// runKilledGroup is runKilled; with group, dv runs in a process group of
// its own and the kill takes the whole group: dv and the command it runs
// (dv run, dv train), as a crash of the machine or a container would. A
// kill of dv alone leaves that command running on, writing the outputs a
// re-run is about to write.
func runKilledGroup(dir string, plan killPlan, watch *watchSpec, group bool, args ...string) outcome {
	cmd, out, errb := command(dir, dvBin, args...)
	started := make(chan struct{})
	kill := func() { _ = cmd.Process.Signal(syscall.SIGKILL) }
	if group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		kill = func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
	var counter eventCounter
	if watch != nil && (plan.never || plan.event > 0) {
		var err error
		counter, err = startWatch(*watch, func(n int) {
			if n == plan.event {
				<-started
				spin(plan.jitter)
				kill()
			}
		})
		if err != nil {
			return outcome{res: res{args: args, code: -2, stderr: "(harness) watch: " + err.Error()}}
		}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		if counter != nil {
			counter.stop()
		}
		return outcome{res: res{args: args, code: -2, stderr: err.Error()}}
	}
	close(started)
	var err error
	if !plan.never && plan.event == 0 {
		// Timed: the kill lands after the delay, whatever happens on disk.
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(plan.delay):
			kill()
			err = <-done
		}
	} else {
		err = cmd.Wait()
	}
	o := outcome{res: res{args: append([]string{"dv"}, args...), code: exitCode(err),
		stdout: out.String(), stderr: errb.String(), dur: time.Since(start)}}
	if counter != nil {
		o.events = counter.stop()
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		o.killed = true
	}
	return o
}

// spin waits d without sleeping: a sleep would oversleep by far more.
func spin(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

// watchSpec names the directories whose changes are events: files and
// directories created, deleted, renamed or closed after writing.
type watchSpec struct {
	flat  []string // each watched alone
	tree  string   // watched with every subdirectory, also once created ("" for none)
	trees []string // more such trees
}

// allTrees lists tree and trees.
func (s watchSpec) allTrees() []string {
	if s.tree == "" {
		return s.trees
	}
	return append([]string{s.tree}, s.trees...)
}

// eventCounter counts events until stopped.
type eventCounter interface {
	// stop ends counting and returns the number of events seen.
	stop() int
}

// storeWatch watches the project root and the store's directories: every
// temp file, pack, index, ref, stat cache and pointer written is an event.
func storeWatch(proj string) *watchSpec {
	return &watchSpec{flat: []string{proj, filepath.Join(proj, ".dv"), filepath.Join(proj, ".dv", "tmp"),
		filepath.Join(proj, ".dv", "packs"), filepath.Join(proj, ".dv", "index")},
		tree: filepath.Join(proj, ".dv", "refs")}
}

// treeWatch watches everything below dir (and dir's creation in proj).
func treeWatch(proj, dir string) *watchSpec {
	return &watchSpec{flat: []string{proj}, tree: dir}
}

// ---- files ----

// copyTree copies src to dst. Files for which link returns true are hard
// linked instead (dv never writes its packs and index files in place: it
// only creates and deletes them). Directories in skip are left out.
func copyTree(t testing.TB, src, dst string, link func(rel string) bool, skip ...string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		for _, s := range skip {
			if rel == s {
				return filepath.SkipDir
			}
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case link != nil && link(filepath.ToSlash(rel)):
			return os.Link(p, to)
		}
		return copyFile(p, to, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// storeFiles selects the files of a dv store that may be hard linked.
func storeFiles(rel string) bool {
	return strings.HasPrefix(rel, ".dv/packs/") || strings.HasPrefix(rel, ".dv/index/")
}

// cloneProject copies a project (work tree, .git, .dv) to a new directory,
// linking the store's immutable files. skip names top-level paths to leave
// out (usually "data").
func cloneProject(t testing.TB, src, dst string, skip ...string) {
	t.Helper()
	copyTree(t, src, dst, storeFiles, skip...)
}

type node struct {
	kind string // file, dir, link
	size int64
	exec bool
	link string
}

func scanTree(root string) (map[string]node, error) {
	m := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			m[rel] = node{kind: "dir"}
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m[rel] = node{kind: "link", link: target}
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			m[rel] = node{kind: "file", size: info.Size(), exec: info.Mode()&0o100 != 0}
		default:
			m[rel] = node{kind: d.Type().String()}
		}
		return nil
	})
	return m, err
}

// compareTrees checks that got holds exactly want's directories, files
// (bytes and exec bit) and symlinks, and nothing else.
func compareTrees(got, want string) error {
	g, err := scanTree(got)
	if err != nil {
		return err
	}
	w, err := scanTree(want)
	if err != nil {
		return err
	}
	var diffs []string
	note := func(format string, args ...any) {
		if len(diffs) < 8 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		} else if len(diffs) == 8 {
			diffs = append(diffs, "...")
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(w)) {
		wn := w[rel]
		gn, ok := g[rel]
		switch {
		case !ok:
			note("%s: missing", rel)
		case gn.kind != wn.kind:
			note("%s: is a %s, want a %s", rel, gn.kind, wn.kind)
		case gn.kind == "link" && gn.link != wn.link:
			note("%s: links to %q, want %q", rel, gn.link, wn.link)
		case gn.kind == "file" && gn.size != wn.size:
			note("%s: %d bytes, want %d", rel, gn.size, wn.size)
		case gn.kind == "file" && gn.exec != wn.exec:
			note("%s: exec bit %v, want %v", rel, gn.exec, wn.exec)
		case gn.kind == "file":
			same, err := sameContent(filepath.Join(got, rel), filepath.Join(want, rel))
			if err != nil {
				note("%s: %v", rel, err)
			} else if !same {
				note("%s: content differs", rel)
			}
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(g)) {
		if _, ok := w[rel]; !ok {
			note("%s: unexpected %s", rel, g[rel].kind)
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s differs from %s:\n\t%s", got, want, strings.Join(diffs, "\n\t"))
	}
	return nil
}

func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 256<<10), make([]byte, 256<<10)
	for {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if erra == io.EOF || erra == io.ErrUnexpectedEOF {
			return errb == io.EOF || errb == io.ErrUnexpectedEOF, nil
		}
		if erra != nil {
			return false, erra
		}
		if errb != nil {
			return false, errb
		}
	}
}

// findNamed lists the paths below root whose base name starts with prefix.
func findNamed(root, prefix string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), prefix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// ---- the store on disk ----

// storeState describes a store as a killed process left it.
type storeState struct {
	tmpFiles   int   // files in .dv/tmp (partial packs)
	tmpBytes   int64 // their size
	packs      int   // pack files in .dv/packs
	unindexed  int   // pack files that no index file names
	missing    int   // packs that an index names but that are not there
	indexFiles int   // index files in .dv/index
	badIndex   int   // index files that do not decode
	strays     []string
}

func isID(name string) bool {
	_, err := objects.ParseID(name)
	return err == nil && len(name) == 2*objects.IDSize
}

// inspectStore reads the store of proj directly (not through dv).
func inspectStore(proj string) storeState {
	var st storeState
	sd := filepath.Join(proj, ".dv")
	if ents, err := os.ReadDir(filepath.Join(sd, "tmp")); err == nil {
		for _, e := range ents {
			st.tmpFiles++
			if info, err := e.Info(); err == nil {
				st.tmpBytes += info.Size()
			}
		}
	}
	named := map[string]bool{}
	if ents, err := os.ReadDir(filepath.Join(sd, "index")); err == nil {
		for _, e := range ents {
			if !isID(e.Name()) {
				st.strays = append(st.strays, ".dv/index/"+e.Name())
				continue
			}
			st.indexFiles++
			b, err := os.ReadFile(filepath.Join(sd, "index", e.Name()))
			packs, derr := objects.DecodeIndex(b)
			if err != nil || derr != nil {
				st.badIndex++
				continue
			}
			for _, p := range packs {
				named[p.Pack.String()] = true
			}
		}
	}
	onDisk := map[string]bool{}
	if ents, err := os.ReadDir(filepath.Join(sd, "packs")); err == nil {
		for _, e := range ents {
			if !isID(e.Name()) {
				st.strays = append(st.strays, ".dv/packs/"+e.Name())
				continue
			}
			st.packs++
			onDisk[e.Name()] = true
			if !named[e.Name()] {
				st.unindexed++
			}
		}
	}
	for p := range named {
		if !onDisk[p] {
			st.missing++
		}
	}
	// Temporary files of atomic writes (pointer, .gitignore, stat cache).
	for _, d := range []string{proj, sd} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".tmp") {
				rel, _ := filepath.Rel(proj, filepath.Join(d, e.Name()))
				st.strays = append(st.strays, rel)
			}
		}
	}
	return st
}

func (s storeState) String() string {
	str := fmt.Sprintf("tmp=%d (%s) packs=%d unindexed=%d index=%d", s.tmpFiles, mib(s.tmpBytes),
		s.packs, s.unindexed, s.indexFiles)
	if s.missing > 0 {
		str += fmt.Sprintf(" MISSING-PACKS=%d", s.missing)
	}
	if s.badIndex > 0 {
		str += fmt.Sprintf(" BAD-INDEX=%d", s.badIndex)
	}
	if len(s.strays) > 0 {
		str += fmt.Sprintf(" strays=%v", s.strays)
	}
	return str
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
