package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// addResult is what dv --json add prints for each path.
type addResult struct {
	Files       int64 `json:"files"`
	Bytes       int64 `json:"bytes"`
	BytesRead   int64 `json:"bytes_read"`
	NewObjects  int   `json:"new_objects"`
	NewBytes    int64 `json:"new_bytes"`
	StoredBytes int64 `json:"stored_bytes"`
	Unchanged   bool  `json:"unchanged"`
}

// timed runs fn after a sync and records its wall time under key. A failure
// is recorded (and logged) but does not stop the benchmark.
func (b *bench) timed(ctx context.Context, key string, run int, fn func() error) error {
	syncAll(ctx)
	start := time.Now()
	err := fn()
	secs := time.Since(start).Seconds()
	if err != nil {
		b.res.fail(key, run, err)
		b.logf("  %-24s FAILED: %v", key, err)
		return err
	}
	b.res.setSecs(key, run, secs)
	b.logf("  %-24s %s", key, fmtSeconds(secs))
	return nil
}

// scratch returns an empty folder for one measurement's target.
func (b *bench) scratch(name string) (string, error) {
	p := filepath.Join(b.root, "scratch", name)
	if err := os.RemoveAll(p); err != nil {
		return "", err
	}
	return p, os.MkdirAll(p, 0o755)
}

// clean removes a measurement's target, outside of any timing.
func (b *bench) clean(ctx context.Context, paths ...string) {
	for _, p := range paths {
		_ = os.RemoveAll(p)
	}
	syncAll(ctx)
}

func (b *bench) initProject(ctx context.Context, dir string) error {
	if b.p.git {
		if _, err := command(ctx, dir, gitEnv, "git", "init", "-q"); err != nil {
			return err
		}
		_, err := command(ctx, dir, nil, b.dv, "init")
		return err
	}
	_, err := command(ctx, dir, nil, b.dv, "init", "--no-git")
	return err
}

// dvTimed runs dv with args in dir, timed under key; its CPU time goes
// under key+" cpu".
func (b *bench) dvTimed(ctx context.Context, key string, run int, dir string, args ...string) ([]byte, error) {
	var out []byte
	var u usage
	err := b.timed(ctx, key, run, func() (err error) {
		out, u, err = commandUsage(ctx, dir, nil, b.dv, args...)
		return err
	})
	if err == nil {
		b.res.setSecs(key, run, u.Wall) // dv's own time, not the launcher's start
		b.res.setSecs(key+" cpu", run, u.CPU)
		b.res.set(key+" rss", run, float64(u.RSS))
	}
	return out, err
}

// storeSize records the size of dir's dv store under key: packs, index
// files and refs, what a remote holds. The stat cache is left out, as
// restic's figure leaves out its cache folder (RESTIC_CACHE_DIR).
func (b *bench) storeSize(key string, run int, dir string) {
	var total int64
	for _, sub := range []string{"packs", "index", "refs"} {
		n, err := dirSize(filepath.Join(dir, ".dv", sub))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.res.fail(key, run, err)
			return
		}
		total += n
	}
	b.res.set(key, run, float64(total))
}

// resticRepoSize records the size of the restic repository in scratch.
func (b *bench) resticRepoSize(key string, run int, scratch string) {
	if n, err := dirSize(filepath.Join(scratch, "repo")); err != nil {
		b.res.fail(key, run, err)
	} else {
		b.res.set(key, run, float64(n))
	}
}

// dvAdd runs dv --json add name in dir, timed under key.
func (b *bench) dvAdd(ctx context.Context, key string, run int, dir, name string) (*addResult, error) {
	out, err := b.dvTimed(ctx, key, run, dir, "--json", "--no-progress", "add", name)
	if err != nil {
		return nil, err
	}
	var rs []addResult
	if err := json.Unmarshal(out, &rs); err != nil || len(rs) != 1 {
		err = fmt.Errorf("dv --json add: unexpected output %.200q (%v)", out, err)
		b.res.fail(key, run, err)
		return nil, err
	}
	return &rs[0], nil
}

// peerRefs times the peers that copy or back up dir/name.
func (b *bench) peerRefs(ctx context.Context, run int, wl, dir, name string, isDir bool) error {
	src := filepath.Join(dir, name)
	if b.p.cp && b.p.sync && b.p.sh {
		s, err := b.scratch("cp")
		if err != nil {
			return err
		}
		_ = b.timed(ctx, wl+" cp+sync", run, func() error { return copyAndSync(ctx, src, filepath.Join(s, name), isDir) })
		b.clean(ctx, s)
	}
	if b.p.restic {
		s, err := b.scratch("restic")
		if err != nil {
			return err
		}
		if err := resticInit(ctx, s); err != nil {
			b.res.fail(wl+" restic backup", run, err)
		} else if b.timed(ctx, wl+" restic backup", run, func() error { return resticBackup(ctx, s, dir, name) }) == nil {
			b.resticRepoSize(wl+" restic repo bytes", run, s)
		}
		b.clean(ctx, s)
	}
	if b.p.gitLFS {
		if err := resetProject(dir, name); err != nil {
			return err
		}
		if err := lfsSetup(ctx, dir, name, isDir); err != nil {
			b.res.fail(wl+" git-lfs add", run, err)
		} else {
			_ = b.timed(ctx, wl+" git-lfs add", run, func() error { return lfsAdd(ctx, dir, name) })
		}
		if err := resetProject(dir, name); err != nil {
			return err
		}
		syncAll(ctx)
	}
	return nil
}

// runW1 is one run of P1: dv add of one big file against a durable copy,
// restic, and (for information) cp, b3sum and git-lfs.
func (b *bench) runW1(ctx context.Context, run int) error {
	dir, name := b.w.w1Dir, b.w.w1Name
	src := filepath.Join(dir, name)
	if err := resetProject(dir, name); err != nil {
		return err
	}
	if err := b.initProject(ctx, dir); err != nil {
		return err
	}
	if r, err := b.dvAdd(ctx, "W1 dv add", run, dir, name); err == nil {
		b.res.set("W1 dv stored bytes", run, float64(r.StoredBytes))
		b.storeSize("W1 dv store bytes", run, dir)
	}
	if err := resetProject(dir, name); err != nil {
		return err
	}
	syncAll(ctx)
	if !b.cfg.want("P1") {
		return nil // P8 alone: the peak RSS of dv add is all it needs
	}
	if err := b.peerRefs(ctx, run, "W1", dir, name, false); err != nil {
		return err
	}
	if b.p.cp {
		s, err := b.scratch("cp")
		if err != nil {
			return err
		}
		_ = b.timed(ctx, "W1 cp", run, func() error { return plainCopy(ctx, src, filepath.Join(s, name), false) })
		b.clean(ctx, s)
	}
	if b.p.b3sum {
		_ = b.timed(ctx, "W1 b3sum", run, func() error { _, err := command(ctx, "", nil, "b3sum", src); return err })
	}
	return nil
}

// runW2 is one run of P2 (dv add of many small files), P3 (status and
// re-add of the unchanged W3) and P10 (checkout into an empty work tree).
func (b *bench) runW2(ctx context.Context, run int) error {
	dir, name := b.w.w2Dir, b.w.w2Name
	src := filepath.Join(dir, name)
	if err := resetProject(dir, name); err != nil {
		return err
	}
	syncAll(ctx)
	if b.cfg.want("P2") {
		if err := b.peerRefs(ctx, run, "W2", dir, name, true); err != nil {
			return err
		}
	}
	if err := b.initProject(ctx, dir); err != nil {
		return err
	}
	r, err := b.dvAdd(ctx, "W2 dv add", run, dir, name)
	if err != nil {
		return nil // nothing to check out or re-add; the failure is recorded
	}
	n, err := countFiles(filepath.Join(dir, ".dv"))
	if err != nil {
		return err
	}
	b.res.set("W2 .dv files", run, float64(n))
	b.res.set("W2 dv stored bytes", run, float64(r.StoredBytes))
	b.storeSize("W2 dv store bytes", run, dir)

	if b.cfg.want("P3") {
		if out, err := b.dvTimed(ctx, "W3 dv status", run, dir, "--json", "status"); err == nil {
			var st struct {
				BytesRead *int64 `json:"bytes_read"`
				Clean     bool   `json:"clean"`
			}
			if err := json.Unmarshal(out, &st); err != nil || st.BytesRead == nil {
				b.res.fail("W3 status bytes_read", run, fmt.Errorf("dv --json status: unexpected output %.200q", out))
			} else {
				b.res.set("W3 status bytes_read", run, float64(*st.BytesRead))
				if !st.Clean {
					b.res.fail("W3 status clean", run, fmt.Errorf("dv status says W3 is not clean: %.300s", out))
				}
			}
		}
		if r, err := b.dvAdd(ctx, "W3 dv re-add", run, dir, name); err == nil {
			b.res.set("W3 re-add bytes_read", run, float64(r.BytesRead))
		}
		if b.p.find && b.p.sh {
			_ = b.timed(ctx, "W3 find+stat", run, func() error { return findStat(ctx, src) })
		}
		if b.w.w3GitDir != "" {
			_ = b.timed(ctx, "W3 git status", run, func() error { return gitStatus(ctx, b.w.w3GitDir, src) })
		}
	}
	if b.cfg.want("P10") {
		if err := b.checkoutRun(ctx, run, dir, name); err != nil {
			return err
		}
	}
	if err := resetProject(dir, name); err != nil {
		return err
	}
	syncAll(ctx)
	return nil
}

// checkoutRun moves the data away (keeping .dv and the pointer), times
// dv checkout, checks the result in the first run, puts the data back, and
// times cp -r of the same data.
func (b *bench) checkoutRun(ctx context.Context, run int, dir, name string) error {
	src := filepath.Join(dir, name)
	aside := filepath.Join(b.root, "w2-aside")
	if err := os.Rename(src, aside); err != nil {
		return err
	}
	out, err := b.dvTimed(ctx, "W2 dv checkout", run, dir, "--json", "--no-progress", "checkout")
	if err == nil && run == 0 {
		if err := sameTree(aside, src); err != nil {
			b.res.fail("W2 checkout result", run, err)
			b.logf("  dv checkout wrote wrong data: %v (%.300s)", err, out)
		}
	}
	if err := os.RemoveAll(src); err != nil {
		return err
	}
	if err := os.Rename(aside, src); err != nil {
		return fmt.Errorf("put W2 back: %w", err)
	}
	syncAll(ctx)
	if b.p.cp {
		s, err := b.scratch("cp")
		if err != nil {
			return err
		}
		_ = b.timed(ctx, "W2 cp -r", run, func() error { return plainCopy(ctx, src, filepath.Join(s, name), true) })
		b.clean(ctx, s)
	}
	return nil
}

// sameTree checks that got holds the same regular files as want, with
// the same content.
func sameTree(want, got string) error {
	n := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(a, c) {
			return fmt.Errorf("%s differs", rel)
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	m, err := countFiles(got)
	if err == nil && m != n {
		err = fmt.Errorf("%d files checked out, %d expected", m, n)
	}
	return err
}

// runW4 is one run of P4: dv add of the CSV's version 1, then version 2.
func (b *bench) runW4(ctx context.Context, run int) error {
	proj := filepath.Join(filepath.Dir(b.w.w4V1), "proj")
	if err := os.RemoveAll(proj); err != nil {
		return err
	}
	if err := os.MkdirAll(proj, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(proj)
	if err := b.initProject(ctx, proj); err != nil {
		return err
	}
	data := filepath.Join(proj, "data.csv")
	for v, src := range []string{b.w.w4V1, b.w.w4V2} {
		_ = os.Remove(data)
		if err := os.Link(src, data); err != nil {
			return err
		}
		size := float64(b.w.w4Bytes1)
		if v == 1 {
			size = float64(b.w.w4Bytes2)
		}
		r, err := b.dvAdd(ctx, fmt.Sprintf("W4 dv add v%d", v+1), run, proj, "data.csv")
		if err != nil {
			return nil // recorded
		}
		b.res.set(fmt.Sprintf("W4 v%d stored %%", v+1), run, 100*float64(r.StoredBytes)/size)
		b.res.set(fmt.Sprintf("W4 v%d new %%", v+1), run, 100*float64(r.NewBytes)/size)
	}
	b.storeSize("W4 dv store bytes", run, proj)
	if b.p.restic && run == 0 {
		// Store size only (it does not change from run to run): restic
		// backs up v1 then v2 into one repository.
		s, err := b.scratch("restic")
		if err != nil {
			return err
		}
		defer b.clean(ctx, s)
		if err := resticInit(ctx, s); err != nil {
			b.res.fail("W4 restic repo bytes", run, err)
			return nil
		}
		for _, src := range []string{b.w.w4V1, b.w.w4V2} {
			_ = os.Remove(data)
			if err := os.Link(src, data); err != nil {
				return err
			}
			if err := resticBackup(ctx, s, proj, "data.csv"); err != nil {
				b.res.fail("W4 restic repo bytes", run, err)
				return nil
			}
		}
		b.resticRepoSize("W4 restic repo bytes", run, s)
	}
	return nil
}
