package main

// P14: a real source tree and its next release. W14 is the Go toolchain's
// GOROOT as the Go module proxy publishes it (golang.org/toolchain, two
// consecutive releases for linux-amd64, 11,490 files and 205 MiB each),
// fetched with go mod download into the module cache and copied from there
// into the temporary folder (writable files, fresh inodes). Each run adds
// release 1 to a fresh dv project and backs the same folder up with restic
// into a fresh repository, then puts release 2 at the same path and does
// both again: the first add against restic's time (the goal), the second
// add (information), and the store after both against restic's repository.
// At -scale below 1 the tree is a sample of that fraction of the files,
// the same paths in both releases (those whose path's FNV-1a hash falls in
// the first fraction of its range: the sample keeps the tree's mix of
// sources, test data and binaries), so that quick runs stay quick; above 1
// it is the whole tree.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// w14Releases are the two consecutive releases of W14: module versions of
// golang.org/toolchain on the Go module proxy.
var w14Releases = [2]string{"v0.0.1-go1.26.1.linux-amd64", "v0.0.1-go1.26.2.linux-amd64"}

const w14Module = "golang.org/toolchain"

// w14 is P14's workload: the two releases, and the project their tree is
// put into by turns.
type w14 struct {
	dir   string    // the project; the tree is dir/name
	name  string    // the tree's folder name
	rel   [2]string // the releases' copies, renamed into dir/name for a run
	files [2]int
	bytes [2]int64
	total int // files in release 1 before -scale's subset
}

// genW14 fetches the two releases with go mod download and copies them
// (or the -scale subset) into the temporary folder. skip is a line saying
// why P14 cannot run (the proxy does not serve the modules); err is a
// failure of this machine (a disk error).
func (b *bench) genW14(ctx context.Context) (skip string, err error) {
	dirs, err := downloadToolchains(ctx, b.root)
	if err != nil {
		return fmt.Sprintf("skipped: P14: the Go module proxy did not serve %s (%v)", w14Module, err), nil
	}
	w := &b.w14
	base := filepath.Join(b.root, "w14")
	w.dir, w.name = filepath.Join(base, "proj"), "go"
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return "", err
	}
	for i, src := range dirs {
		files, err := treeFiles(src)
		if err != nil {
			return "", err
		}
		if i == 0 {
			w.total = len(files)
		}
		if b.cfg.scale < 1 {
			files = slices.DeleteFunc(files, func(f string) bool { return !inSample(f, b.cfg.scale) })
		}
		w.rel[i] = filepath.Join(base, releaseName(w14Releases[i]))
		n, err := copyFiles(src, w.rel[i], files)
		if err != nil {
			return "", fmt.Errorf("copy %s: %w", src, err)
		}
		w.files[i], w.bytes[i] = len(files), n
	}
	return "", nil
}

// downloadToolchains runs go mod download for the two releases and returns
// the folders of their unpacked modules in the module cache.
func downloadToolchains(ctx context.Context, root string) ([2]string, error) {
	var dirs [2]string
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	args := []string{"mod", "download", "-json"}
	for _, v := range w14Releases {
		args = append(args, w14Module+"@"+v)
	}
	// Outside any module (root is the temporary folder), so that the dv
	// module's go.mod and go.sum are never touched.
	out, err := command(ctx, root, []string{"GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GO111MODULE=on"}, "go", args...)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	found := map[string]string{}
	var errs []string
	for {
		var m struct{ Path, Version, Dir, Error string }
		if dec.Decode(&m) != nil {
			break
		}
		if m.Error != "" {
			errs = append(errs, strings.Join(strings.Fields(m.Error), " ")) // one line
		} else if m.Dir != "" {
			found[m.Version] = m.Dir
		}
	}
	if len(errs) > 0 {
		return dirs, errors.New(strings.Join(errs, "; "))
	}
	for i, v := range w14Releases {
		if dirs[i] = found[v]; dirs[i] == "" {
			if err == nil {
				err = fmt.Errorf("go mod download printed no folder for %s@%s", w14Module, v)
			}
			return dirs, err
		}
	}
	return dirs, nil
}

// releaseName is the Go release of a golang.org/toolchain version:
// go1.26.1 for v0.0.1-go1.26.1.linux-amd64.
func releaseName(version string) string {
	_, rest, _ := strings.Cut(version, "-")
	name, _, _ := strings.Cut(rest, ".linux")
	return name
}

// ok says whether key holds a figure for run (measured, not failed).
func (r *results) ok(key string, run int) bool {
	v, found := r.vals[key]
	return found && run < len(v) && !math.IsNaN(v[run])
}

// inSample says whether path is in the -scale sample of W14: its FNV-1a
// hash falls in the first scale of the hash's range.
func inSample(path string, scale float64) bool {
	h := fnv.New32a()
	h.Write([]byte(path))
	return float64(h.Sum32()) < scale*(1<<32)
}

// treeFiles lists the regular files below dir, slash-separated relative
// paths in sorted order.
func treeFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	slices.Sort(files)
	return files, err
}

// copyFiles copies files (relative to src) into dst, writable by their
// owner (the module cache is read-only) with the executable bits kept,
// and returns the bytes copied.
func copyFiles(src, dst string, files []string) (int64, error) {
	var total int64
	for _, f := range files {
		from, to := filepath.Join(src, filepath.FromSlash(f)), filepath.Join(dst, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return total, err
		}
		n, err := copyFile(from, to)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func copyFile(from, to string) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm()|0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// runW14 is one run of P14: release 1 then release 2 at the same path,
// each added by dv to a fresh project and backed up by restic into a
// fresh repository, in the same run.
func (b *bench) runW14(ctx context.Context, run int) error {
	w := b.w14
	tree := filepath.Join(w.dir, w.name)
	if err := os.RemoveAll(w.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	if err := b.initProject(ctx, w.dir); err != nil {
		return err
	}
	rs := ""
	if b.p.restic {
		var err error
		if rs, err = b.scratch("restic-w14"); err != nil {
			return err
		}
		defer b.clean(ctx, rs)
		if err := resticInit(ctx, rs); err != nil {
			b.res.fail("W14 restic backup 1", run, err)
			rs = ""
		}
	}
	dvOK := true
	for i := range 2 {
		// Put release i+1 at the tree's path; it goes back after the run.
		if err := os.Rename(w.rel[i], tree); err != nil {
			return err
		}
		err := b.w14Step(ctx, run, i+1, rs, &dvOK)
		if rerr := os.Rename(tree, w.rel[i]); err == nil {
			err = rerr
		}
		if err != nil {
			return err
		}
		if rs != "" && !b.res.ok(fmt.Sprintf("W14 restic backup %d", i+1), run) {
			rs = "" // the repository is incomplete: no second backup, no size
		}
	}
	if dvOK {
		b.storeSize("W14 dv store bytes", run, w.dir)
	}
	if rs != "" {
		b.resticRepoSize("W14 restic repo bytes", run, rs)
	}
	return nil
}

// w14Step adds release n (1 or 2), now at the tree's path, with dv and
// backs it up with restic into the repository in rs ("": no restic).
func (b *bench) w14Step(ctx context.Context, run, n int, rs string, dvOK *bool) error {
	w := b.w14
	key := fmt.Sprintf("W14 dv add %d", n)
	if *dvOK {
		r, err := b.dvAdd(ctx, key, run, w.dir, w.name)
		if err != nil {
			*dvOK = false
		} else {
			b.res.set(key+" files", run, float64(r.Files))
			b.res.set(key+" stored bytes", run, float64(r.StoredBytes))
			if n == 1 {
				b.storeSize("W14 dv store bytes 1", run, w.dir)
			}
		}
	}
	if rs == "" {
		return nil
	}
	key = fmt.Sprintf("W14 restic backup %d", n)
	var cpu float64
	if b.timed(ctx, key, run, func() (err error) {
		_, cpu, err = commandCPU(ctx, w.dir, resticEnv(rs), "restic", "backup", "-q", "--host", "dvbench", w.name)
		return err
	}) == nil {
		b.res.setSecs(key+" cpu", run, cpu)
		if n == 1 {
			b.resticRepoSize("W14 restic repo bytes 1", run, rs)
		}
	}
	return nil
}

func (b *bench) describeW14() string {
	w := b.w14
	v1, v2 := filepath.Base(w.rel[0]), filepath.Base(w.rel[1])
	s := fmt.Sprintf("W14 (P14): the Go toolchain's GOROOT from the Go module proxy (%s@v0.0.1-<release>.linux-amd64): %s, %d files (%s), then %s at the same path, %d files (%s)",
		w14Module, v1, w.files[0], humanBytes(w.bytes[0]), v2, w.files[1], humanBytes(w.bytes[1]))
	if w.files[0] < w.total {
		s += fmt.Sprintf("; -scale %g: a sample of %d of %s's %d files (by a hash of the path), the same paths in %s", b.cfg.scale, w.files[0], v1, w.total, v2)
	}
	return s
}

// realTreeRows are P14's rows.
func realTreeRows(b *bench) []row {
	w := b.w14
	sub := ""
	if w.files[0] < w.total {
		sub = fmt.Sprintf(", sampled at -scale %g", b.cfg.scale)
	}
	add1 := fmt.Sprintf("dv add W14 release 1 (%d files, %s%s)", w.files[0], humanBytes(w.bytes[0]), sub)
	add2 := fmt.Sprintf("dv add W14 release 2 over it (%d files, %s%s)", w.files[1], humanBytes(w.bytes[1]), sub)
	return []row{
		{goal: "P14", what: add1, dv: "W14 dv add 1", ref: "W14 restic backup 1", label: "restic backup", maxRatio: 0.5, target: "≤ 0.5× (2× faster)"},
		{goal: "P14", what: add1 + ": CPU time (user+sys)", dv: "W14 dv add 1 cpu", ref: "W14 restic backup 1 cpu", label: "restic backup", target: "info"},
		{goal: "P14", what: add2, dv: "W14 dv add 2", ref: "W14 restic backup 2", label: "restic backup", target: "info"},
		{goal: "P14", what: add2 + ": CPU time (user+sys)", dv: "W14 dv add 2 cpu", ref: "W14 restic backup 2 cpu", label: "restic backup", target: "info"},
		{goal: "P14", what: "files dv added (release 1)", dv: "W14 dv add 1 files", unit: "count", target: fmt.Sprint(w.files[0]),
			pass: func(v float64) bool { return int(v) == w.files[0] }},
		{goal: "P14", what: "W14 stored bytes of release 1", dv: "W14 dv add 1 stored bytes", unit: "bytes", target: "info"},
		{goal: "P14", what: "W14 stored bytes of release 2 (new data)", dv: "W14 dv add 2 stored bytes", unit: "bytes", target: "info"},
		{goal: "P14", what: "W14 store size after release 1 (packs, index, refs)", dv: "W14 dv store bytes 1", ref: "W14 restic repo bytes 1", label: "restic repository", unit: "bytes", target: "info"},
		{goal: "P14", what: "W14 store size after both releases (packs, index, refs)", dv: "W14 dv store bytes", ref: "W14 restic repo bytes", label: "restic repository", unit: "bytes", maxRatio: 1, target: "≤ 1×"},
	}
}
