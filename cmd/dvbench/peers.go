package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// peers says which reference tools are installed.
type peers struct {
	cp, sync, find, sh bool // coreutils, findutils, a shell
	git, gitLFS        bool
	restic, b3sum      bool
}

// detectPeers finds the reference tools, and returns their versions and
// one line for each tool that is missing.
func detectPeers(ctx context.Context) (p peers, versions, missing []string) {
	has := func(name string) bool { _, err := exec.LookPath(name); return err == nil }
	first := func(name string, args ...string) string {
		out, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil {
			return name + " (version unknown)"
		}
		l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return l
	}
	p.cp, p.sync, p.find, p.sh = has("cp"), has("sync"), has("find"), has("sh")
	p.git = has("git")
	p.gitLFS = p.git && exec.CommandContext(ctx, "git", "lfs", "version").Run() == nil
	p.restic, p.b3sum = has("restic"), has("b3sum")

	check := func(ok bool, name, what string, version func() string) {
		if ok {
			versions = append(versions, version())
		} else {
			missing = append(missing, fmt.Sprintf("skipped: %s is not installed (%s)", name, what))
		}
	}
	check(p.cp && p.sync && p.sh, "cp/sync/sh", "the durable-copy references of P1, P2 and P10", func() string { return first("cp", "--version") })
	check(p.find, "find", "the find+stat reference of P3", func() string { return first("find", "--version") })
	check(p.git, "git", "git-lfs; dv init --no-git is used instead", func() string { return first("git", "--version") })
	check(p.gitLFS, "git-lfs", "the git-lfs references of P1 and P2", func() string { return first("git", "lfs", "version") })
	check(p.restic, "restic", "the restic references of P1 and P2", func() string { return first("restic", "version") })
	check(p.b3sum, "b3sum", "the hashing floor of P1, for information", func() string { return first("b3sum", "--version") })
	return p, versions, missing
}

// installHint returns an apt-get hint when peers are missing and this
// process could install them; the benchmark never installs anything.
func installHint(p peers) string {
	var pkgs []string
	if !p.restic {
		pkgs = append(pkgs, "restic")
	}
	if !p.gitLFS {
		pkgs = append(pkgs, "git-lfs")
	}
	if !p.b3sum {
		pkgs = append(pkgs, "b3sum")
	}
	if len(pkgs) == 0 || os.Geteuid() != 0 {
		return ""
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return ""
	}
	return "hint: apt-get install -y " + strings.Join(pkgs, " ")
}

// command runs name with args in dir, with extra environment variables,
// and returns its standard output. Standard error goes into the error.
func command(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, error) {
	out, _, err := commandCPU(ctx, dir, env, name, args...)
	return out, err
}

// commandCPU is command that also returns the CPU time (user + system, in
// seconds) the process used: less sensitive than wall time to other work
// on the machine.
func commandCPU(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, float64, error) {
	out, cpu, _, err := commandStats(ctx, dir, env, name, args...)
	return out, cpu, err
}

// cpuList, when set, is the taskset CPU list every measured command runs
// on (the -cores sweep); empty: all CPUs.
var cpuList string

// commandStats is commandCPU that also returns the peak resident set size
// of the process in bytes (through the launcher: launch.go).
func commandStats(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, float64, int64, error) {
	out, u, err := commandUsage(ctx, dir, env, name, args...)
	return out, u.CPU, u.RSS, err
}

// commandUsage runs name in dir through the launcher and returns its
// output and its own wall time, CPU time and peak RSS.
func commandUsage(ctx context.Context, dir string, env []string, name string, args ...string) ([]byte, usage, error) {
	if cpuList != "" && name != "sync" {
		args = append([]string{"-c", cpuList, name}, args...)
		name = "taskset"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	u, err := runMeasured(cmd)
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return stdout.Bytes(), u, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), u, nil
}

// dirSize is the total size of the regular files below dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// syncAll flushes dirty pages so that one measurement does not pay for the
// writes of the one before.
func syncAll(ctx context.Context) { _, _ = command(ctx, "", nil, "sync") }

// copyAndSync is the durable copy reference: cp (-r) src dst, then sync.
func copyAndSync(ctx context.Context, src, dst string, recursive bool) error {
	script := `cp "$1" "$2" && sync`
	if recursive {
		script = `cp -r "$1" "$2" && sync`
	}
	_, err := command(ctx, "", nil, "sh", "-c", script, "sh", src, dst)
	return err
}

// plainCopy is cp (-r) src dst without sync.
func plainCopy(ctx context.Context, src, dst string, recursive bool) error {
	args := []string{src, dst}
	if recursive {
		args = []string{"-r", src, dst}
	}
	_, err := command(ctx, "", nil, "cp", args...)
	return err
}

// gitAddTree makes gitDir a git repository whose index holds every file
// of tree (the work tree), for the git status reference of P3: an
// index-based peer on the same files. It runs once, untimed.
func gitAddTree(ctx context.Context, gitDir, tree string) error {
	for _, args := range [][]string{
		{"init", "-q", "--bare", gitDir},
		{"--git-dir=" + gitDir, "--work-tree=" + tree, "config", "core.bare", "false"},
		{"--git-dir=" + gitDir, "--work-tree=" + tree, "add", "-A", "."},
		{"--git-dir=" + gitDir, "--work-tree=" + tree, "status", "--porcelain"}, // refresh the index
	} {
		if _, err := command(ctx, tree, gitEnv, "git", args...); err != nil {
			return err
		}
	}
	return nil
}

// gitStatus is the P3 index-based reference: git status over the same
// tree, with its index fresh.
func gitStatus(ctx context.Context, gitDir, tree string) error {
	_, err := command(ctx, tree, gitEnv, "git", "--git-dir="+gitDir, "--work-tree="+tree, "status", "--porcelain")
	return err
}

// findStat is the P3 reference: list every file with its size and mtime.
func findStat(ctx context.Context, dir string) error {
	_, err := command(ctx, "", nil, "sh", "-c", `find "$1" -type f -printf '%s %T@\n' >/dev/null`, "sh", dir)
	return err
}

// resticEnv returns the environment of a restic run with a fresh repo and
// cache below scratch.
func resticEnv(scratch string) []string {
	return []string{"RESTIC_PASSWORD=dvbench", "RESTIC_REPOSITORY=" + filepath.Join(scratch, "repo"),
		"RESTIC_CACHE_DIR=" + filepath.Join(scratch, "cache"), "RESTIC_PROGRESS_FPS=0"}
}

func resticInit(ctx context.Context, scratch string) error {
	_, err := command(ctx, scratch, resticEnv(scratch), "restic", "init", "-q")
	return err
}

func resticBackup(ctx context.Context, scratch, dir, name string) error {
	_, err := command(ctx, dir, resticEnv(scratch), "restic", "backup", "-q", "--host", "dvbench", name)
	return err
}

// gitEnv keeps the user's and system's git configuration out of the runs.
var gitEnv = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
	"GIT_AUTHOR_NAME=dvbench", "GIT_AUTHOR_EMAIL=dvbench@localhost",
	"GIT_COMMITTER_NAME=dvbench", "GIT_COMMITTER_EMAIL=dvbench@localhost"}

// lfsSetup makes dir a git repository whose path name (a file, or a
// directory when dir is true) is tracked by git-lfs.
func lfsSetup(ctx context.Context, dir, name string, isDir bool) error {
	pattern := name
	if isDir {
		pattern = name + "/**"
	}
	for _, args := range [][]string{{"init", "-q"}, {"lfs", "install", "--local"}, {"lfs", "track", pattern}} {
		if _, err := command(ctx, dir, gitEnv, "git", args...); err != nil {
			return err
		}
	}
	return nil
}

func lfsAdd(ctx context.Context, dir, name string) error {
	_, err := command(ctx, dir, gitEnv, "git", "add", name)
	return err
}

// resetProject removes everything in dir except the entry keep: dv's
// store, pointers, git's repository and attributes.
func resetProject(dir, keep string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if e.Name() != keep {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// countFiles counts the regular files below dir.
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	return n, err
}
