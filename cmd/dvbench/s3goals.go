package main

// P5 (push of W2: requests, and time against one PUT per file), P6 (push
// and pull of W1 against the raw SDK's multipart upload and ranged
// download) and P7 (no-op push and pull).
//
// Each transfer runs twice per run: through the counting proxy, which
// counts dv's requests (P5's bound, P7), and straight to the server, for
// the times that the goals compare with the raw SDK's, also straight to
// the server (the SDK's requests are counted by an http.RoundTripper).
// The proxy runs in this process and costs CPU on small machines: the
// SDK's download through it runs at about a quarter of its direct speed
// on 2 cores. So the pairs through the proxy are printed for information
// only.

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dv-ml/dv/remote/s3/s3test"
)

// s3projects are the dv projects the S3 goals push from: hard links to
// W1 and W2, added once before the runs.
type s3projects struct {
	w1, w2  string   // project folders: w1/big.bin, w2/data
	w2Files []string // W2's files, relative to w2/data
}

// startS3 finds or starts the S3 server; without one, the S3 goals are
// skipped with a note (b.s3 stays nil).
func (b *bench) startS3(ctx context.Context) error {
	e, err := b.setupS3(ctx)
	if err != nil {
		return fmt.Errorf("S3 server: %w", err)
	}
	if e == nil {
		b.logf("%s", s3Skip)
		b.res.note("%s", s3Skip)
		return nil
	}
	b.s3 = e
	b.res.header = append(b.res.header, fmt.Sprintf("S3: %s, bucket %s, through a counting proxy at %s",
		e.started, e.bucket, e.proxy.URL))
	return nil
}

// prepareS3 makes the projects the S3 goals push from.
func (b *bench) prepareS3(ctx context.Context) error {
	var err error
	add := func(proj, src, name string) error {
		if err := os.MkdirAll(proj, 0o755); err != nil {
			return err
		}
		if err := linkTree(src, filepath.Join(proj, name)); err != nil {
			return err
		}
		if err := b.initProject(ctx, proj); err != nil {
			return err
		}
		start := time.Now()
		if _, err := command(ctx, proj, nil, b.dv, "--no-progress", "-q", "add", name); err != nil {
			return err
		}
		b.logf("dv add %s for the S3 goals in %s", name, fmtSeconds(time.Since(start).Seconds()))
		return nil
	}
	if b.cfg.want("P6") || b.cfg.want("P7") {
		b.s3p.w1 = filepath.Join(b.root, "s3w1")
		if err := add(b.s3p.w1, filepath.Join(b.w.w1Dir, b.w.w1Name), b.w.w1Name); err != nil {
			return fmt.Errorf("prepare the W1 project: %w", err)
		}
	}
	if b.cfg.want("P5") || b.cfg.want("P7") {
		b.s3p.w2 = filepath.Join(b.root, "s3w2")
		if err := add(b.s3p.w2, filepath.Join(b.w.w2Dir, b.w.w2Name), b.w.w2Name); err != nil {
			return fmt.Errorf("prepare the W2 project: %w", err)
		}
		if b.s3p.w2Files, err = listFiles(filepath.Join(b.s3p.w2, b.w.w2Name)); err != nil {
			return err
		}
	}
	return nil
}

// linkTree makes dst a copy of the file or tree src made of hard links.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		return os.Link(p, t)
	})
}

// pushResult is what dv --json push prints.
type pushResult struct {
	Stats struct {
		Objects       int64 `json:"objects"`
		Bytes         int64 `json:"bytes"`
		Packs         int64 `json:"packs"`
		IndexUploaded bool  `json:"index_uploaded"`
	} `json:"stats"`
}

// s3dv runs dv --json --no-progress args in dir, timed under key. When
// the remote is the proxied one, the requests dv sent go under
// key+" requests".
func (b *bench) s3dv(ctx context.Context, key string, run int, proxied bool, dir string, args ...string) ([]byte, error) {
	b.s3.proxy.Reset()
	out, err := b.dvTimed(ctx, key, run, dir, append([]string{"--json", "--no-progress"}, args...)...)
	n, m := b.s3.proxy.Reset()
	if err != nil || !proxied {
		return out, err
	}
	b.res.set(key+" requests", run, float64(n))
	b.logf("  %-24s %d requests (%s)", "", n, methods(m))
	return out, nil
}

// s3ref times fn, an SDK reference, under key and counts its requests
// (through the proxy, or through the direct client's RoundTripper) under
// key+" requests".
func (b *bench) s3ref(ctx context.Context, key string, run int, fn func() error) error {
	b.s3.proxy.Reset()
	b.s3.directRT.Swap(0)
	var cpu float64
	err := b.timed(ctx, key, run, func() error {
		c0 := processCPU()
		err := fn()
		cpu = processCPU() - c0
		return err
	})
	n, m := b.s3.proxy.Reset()
	d := b.s3.directRT.Swap(0)
	if d > 0 {
		n, m = n+d, map[string]int64{"direct": d}
	}
	if err == nil && n > 0 {
		b.res.set(key+" requests", run, float64(n))
		b.logf("  %-24s %d requests (%s)", "", n, methods(m))
	}
	if err == nil && d > 0 && cpu > 0 {
		// Only straight to the server: through the proxy, this process's
		// CPU time includes the proxy's.
		b.res.setSecs(key+" cpu", run, cpu)
	}
	return err
}

// processCPU is the CPU time (user + system, in seconds) this process used.
func processCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// throughput records size/seconds of key's timing in run, in MiB/s.
func (b *bench) throughput(key string, run int, size int64) {
	if v, ok := b.res.vals[key]; ok && v[run] > 0 {
		b.res.set(key+" MiB/s", run, float64(size)/(1<<20)/v[run])
	}
}

// remotes adds two remotes to proj for a run: name at prefix through the
// proxy, and name+"d" at prefix+"-d" straight to the server. It returns
// the prefixes to clean up.
func (b *bench) remotes(ctx context.Context, proj, name, prefix string) ([]string, error) {
	for _, r := range []struct{ name, prefix, endpoint string }{
		{name, prefix, b.s3.proxy.URL},
		{name + "d", prefix + "-d", b.s3.endpoint},
	} {
		if _, err := command(ctx, proj, nil, b.dv, "-q", "remote", "add", r.name,
			fmt.Sprintf("s3://%s/%s", b.s3.bucket, r.prefix), "--endpoint", r.endpoint, "--path-style"); err != nil {
			return nil, err
		}
	}
	return []string{prefix + "/", prefix + "-d/", prefix + "-sdk/", prefix + "-sdkp/"}, nil
}

// clone makes a fresh project in dst with proj's dv.yaml and the pointer
// file of name: what a teammate has after git clone.
func (b *bench) clone(ctx context.Context, proj, dst, name string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"dv.yaml", name + ".dv"} {
		data, err := os.ReadFile(filepath.Join(proj, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o644); err != nil {
			return err
		}
	}
	return b.initProject(ctx, dst)
}

// cleanRemote deletes what a run left in the bucket, outside any timing.
func (b *bench) cleanRemote(ctx context.Context, prefixes ...string) {
	for _, p := range prefixes {
		if err := s3test.DeletePrefix(ctx, b.s3.direct, b.s3.bucket, p); err != nil {
			b.logf("  cleaning s3://%s/%s: %v", b.s3.bucket, p, err)
		}
	}
}

// checkPush records a push's packs and fails key when it uploaded no index.
func (b *bench) checkPush(key string, run int, out []byte) {
	var pr pushResult
	if err := json.Unmarshal(out, &pr); err != nil {
		b.res.fail(key, run, fmt.Errorf("dv --json push: unexpected output %.200q (%v)", out, err))
		return
	}
	b.res.set(key+" packs", run, float64(pr.Stats.Packs))
	if !pr.Stats.IndexUploaded {
		b.res.fail(key, run, fmt.Errorf("dv push uploaded no index: %.300s", out))
	}
}

// runS3W2 is one run of P5 (and P7 on W2): dv push of W2 to an empty
// prefix against one PutObject per file at 32 workers, both straight to
// the server; the push through the proxy, for its requests; a fresh
// clone's dv pull through the proxy; then a no-op pull and a no-op push.
func (b *bench) runS3W2(ctx context.Context, run int) error {
	proj, name := b.s3p.w2, b.w.w2Name
	remote, prefix := fmt.Sprintf("w2r%d", run+1), fmt.Sprintf("w2-run%d-%s", run+1, s3test.RandHex(3))
	prefixes, err := b.remotes(ctx, proj, remote, prefix)
	if err != nil {
		return err
	}
	defer b.cleanRemote(ctx, prefixes...)
	if b.cfg.want("P5") {
		data := filepath.Join(proj, name)
		inTurn(run, func() {
			if out, err := b.s3dv(ctx, "W2 dv push", run, false, proj, "push", "-r", remote+"d"); err == nil {
				b.checkPush("W2 dv push", run, out)
			}
			b.cleanRemote(ctx, prefix+"-d/")
		}, func() {
			_ = b.s3ref(ctx, "W2 sdk put per file", run, func() error {
				return sdkPutFiles(ctx, b.s3.direct, b.s3.bucket, prefix+"-sdk/", data, b.s3p.w2Files)
			})
			b.cleanRemote(ctx, prefix+"-sdk/")
		})
	}
	out, err := b.s3dv(ctx, "W2 dv push via proxy", run, true, proj, "push", "-r", remote)
	if err != nil {
		return nil // recorded; nothing to pull
	}
	b.checkPush("W2 dv push via proxy", run, out)

	clone := filepath.Join(b.root, "scratch", "s3clone-w2")
	defer b.clean(ctx, clone)
	if err := b.clone(ctx, proj, clone, name); err != nil {
		return err
	}
	if _, err := b.s3dv(ctx, "W2 dv pull via proxy", run, true, clone, "pull", "-r", remote); err != nil {
		return nil
	}
	if run == 0 {
		if err := sameTree(filepath.Join(proj, name), filepath.Join(clone, name)); err != nil {
			b.res.fail("W2 pull result", run, err)
			b.logf("  dv pull wrote wrong data: %v", err)
		}
	}
	b.noops(ctx, "W2", run, proj, clone, remote)
	return nil
}

// inTurn runs a then c, or c then a in odd runs, so that neither side of a
// pair always goes first (the machine's state after a big transfer, its
// dirty pages and caches, could favour one).
func inTurn(run int, a, c func()) {
	if run%2 == 0 {
		a()
		c()
	} else {
		c()
		a()
	}
}

// noops times a no-op pull in the clone and a no-op push from proj (P7),
// through the proxy.
func (b *bench) noops(ctx context.Context, wl string, run int, proj, clone, remote string) {
	if !b.cfg.want("P7") {
		return
	}
	_, _ = b.s3dv(ctx, wl+" dv no-op pull", run, true, clone, "pull", "-r", remote)
	_, _ = b.s3dv(ctx, wl+" dv no-op push", run, true, proj, "push", "-r", remote)
}

// runS3W1 is one run of P6 (and P7 on W1): dv push of W1 to an empty
// prefix against the SDK's multipart upload of the same file, a fresh
// clone's dv pull against the SDK's ranged download, straight to the
// server and through the proxy; then a no-op pull and a no-op push.
func (b *bench) runS3W1(ctx context.Context, run int) error {
	proj, name, size := b.s3p.w1, b.w.w1Name, b.w.w1Bytes
	src := filepath.Join(proj, name)
	remote, prefix := fmt.Sprintf("w1r%d", run+1), fmt.Sprintf("w1-run%d-%s", run+1, s3test.RandHex(3))
	prefixes, err := b.remotes(ctx, proj, remote, prefix)
	if err != nil {
		return err
	}
	defer b.cleanRemote(ctx, prefixes...)
	p6 := b.cfg.want("P6")
	sdkKey, sdkProxyKey := prefix+"-sdk/"+name, prefix+"-sdkp/"+name
	if p6 {
		inTurn(run, func() {
			if _, err := b.s3dv(ctx, "W1 dv push", run, false, proj, "push", "-r", remote+"d"); err == nil {
				b.throughput("W1 dv push", run, size)
			}
		}, func() {
			if b.s3ref(ctx, "W1 sdk upload", run, func() error { return sdkUpload(ctx, b.s3.direct, b.s3.bucket, sdkKey, src) }) == nil {
				b.throughput("W1 sdk upload", run, size)
			}
		})
	}
	pushed := false
	inTurn(run, func() {
		if _, err := b.s3dv(ctx, "W1 dv push via proxy", run, true, proj, "push", "-r", remote); err == nil {
			pushed = true
			b.throughput("W1 dv push via proxy", run, size)
		}
	}, func() {
		if p6 && b.s3ref(ctx, "W1 sdk upload via proxy", run, func() error {
			return sdkUpload(ctx, b.s3.sdk, b.s3.bucket, sdkProxyKey, src)
		}) == nil {
			b.throughput("W1 sdk upload via proxy", run, size)
		}
	})
	if !pushed {
		return nil
	}

	clone, cloneD := filepath.Join(b.root, "scratch", "s3clone-w1"), filepath.Join(b.root, "scratch", "s3clone-w1-direct")
	dl := filepath.Join(b.root, "scratch", "sdk-download")
	defer b.clean(ctx, clone, cloneD, dl)
	pull := func(key, clone, remote string, proxied bool) {
		if err := b.clone(ctx, proj, clone, name); err != nil {
			b.res.fail(key, run, err)
			return
		}
		if _, err := b.s3dv(ctx, key, run, proxied, clone, "pull", "-r", remote); err != nil {
			return
		}
		b.throughput(key, run, size)
		if run == 0 {
			if err := sameFile(src, filepath.Join(clone, name)); err != nil {
				b.res.fail(key, run, fmt.Errorf("dv pull wrote wrong data: %w", err))
			}
		}
	}
	download := func(key, objKey string, c *awss3.Client) {
		if err := os.MkdirAll(dl, 0o755); err != nil {
			b.res.fail(key, run, err)
			return
		}
		dst := filepath.Join(dl, name)
		if b.s3ref(ctx, key, run, func() error { return sdkDownload(ctx, c, b.s3.bucket, objKey, size, dst) }) == nil {
			b.throughput(key, run, size)
			if run == 0 {
				if err := sameFile(src, dst); err != nil {
					b.res.fail(key, run, err)
				}
			}
		}
		b.clean(ctx, dst)
	}
	if p6 {
		inTurn(run, func() {
			pull("W1 dv pull", cloneD, remote+"d", false)
			b.clean(ctx, cloneD)
		}, func() { download("W1 sdk download", sdkKey, b.s3.direct) })
	}
	inTurn(run, func() { pull("W1 dv pull via proxy", clone, remote, true) }, func() {
		if p6 {
			download("W1 sdk download via proxy", sdkProxyKey, b.s3.sdk)
		}
	})
	b.noops(ctx, "W1", run, proj, clone, remote)
	return nil
}

// s3Rows are the table's rows of P5, P6 and P7.
func s3Rows(b *bench) []row {
	w := b.w
	w2push := fmt.Sprintf("dv push W2 (%d files)", w.w2Files)
	w1push, w1pull := "dv push W1 ("+humanBytes(w.w1Bytes)+")", "dv pull W1 (fresh clone)"
	le := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	return []row{
		{goal: "P5", what: "dv push W2: requests", dv: "W2 dv push via proxy requests", unit: "count", worst: true, target: "≤ 200", pass: le(200)},
		{goal: "P5", what: w2push, dv: "W2 dv push", ref: "W2 sdk put per file", label: "SDK: 1 PUT/file, 32 workers",
			maxRatio: 0.1, target: "≤ 0.1× (10× faster)"},
		{goal: "P5", what: "SDK 1 PUT/file: requests", dv: "W2 sdk put per file requests", unit: "count", target: "info"},
		{goal: "P5", what: "dv push W2: packs uploaded", dv: "W2 dv push packs", unit: "count", target: "info"},
		{goal: "P5", what: "dv push W2: CPU time (user+sys)", dv: "W2 dv push cpu", unit: "s", target: "info"},
		{goal: "P5", what: "SDK 1 PUT/file: CPU time (user+sys)", dv: "W2 sdk put per file cpu", unit: "s", target: "info"},
		{goal: "P5", what: "dv push W2 through the proxy", dv: "W2 dv push via proxy", unit: "s", target: "info"},
		{goal: "P5", what: "dv pull W2 (fresh clone, proxy)", dv: "W2 dv pull via proxy", unit: "s", target: "info"},
		{goal: "P5", what: "dv pull W2: requests", dv: "W2 dv pull via proxy requests", unit: "count", worst: true, target: "info"},

		{goal: "P6", what: w1push, dv: "W1 dv push", ref: "W1 sdk upload", label: "SDK multipart 16 MiB × 8",
			maxRatio: 1.25, target: "≤ 1.25× (≥ 80 % thr.)"},
		{goal: "P6", what: w1pull, dv: "W1 dv pull", ref: "W1 sdk download", label: "SDK 8 ranged GETs × 16 MiB",
			maxRatio: 1.25, target: "≤ 1.25× (≥ 80 % thr.)"},
		{goal: "P6", what: w1push + " via proxy", dv: "W1 dv push via proxy", ref: "W1 sdk upload via proxy", label: "SDK upload via proxy", target: "info"},
		{goal: "P6", what: w1pull + " via proxy", dv: "W1 dv pull via proxy", ref: "W1 sdk download via proxy", label: "SDK download via proxy", target: "info"},
		{goal: "P6", what: "dv push W1 MiB/s", dv: "W1 dv push MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "SDK upload MiB/s", dv: "W1 sdk upload MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "dv pull W1 MiB/s", dv: "W1 dv pull MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "SDK download MiB/s", dv: "W1 sdk download MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "dv push W1 MiB/s via proxy", dv: "W1 dv push via proxy MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "SDK upload MiB/s via proxy", dv: "W1 sdk upload via proxy MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "dv pull W1 MiB/s via proxy", dv: "W1 dv pull via proxy MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "SDK download MiB/s via proxy", dv: "W1 sdk download via proxy MiB/s", unit: "count", target: "info"},
		{goal: "P6", what: "dv push W1: requests", dv: "W1 dv push via proxy requests", unit: "count", worst: true, target: "info"},
		{goal: "P6", what: "SDK upload: requests", dv: "W1 sdk upload requests", unit: "count", target: "info"},
		{goal: "P6", what: "dv pull W1: requests", dv: "W1 dv pull via proxy requests", unit: "count", worst: true, target: "info"},
		{goal: "P6", what: "SDK download: requests", dv: "W1 sdk download requests", unit: "count", target: "info"},
		{goal: "P6", what: "dv push W1: CPU time (user+sys)", dv: "W1 dv push cpu", unit: "s", target: "info"},
		{goal: "P6", what: "SDK upload: CPU time (user+sys)", dv: "W1 sdk upload cpu", unit: "s", target: "info"},
		{goal: "P6", what: "dv pull W1: CPU time (user+sys)", dv: "W1 dv pull cpu", unit: "s", target: "info"},
		{goal: "P6", what: "SDK download: CPU time (user+sys)", dv: "W1 sdk download cpu", unit: "s", target: "info"},

		{goal: "P7", what: "no-op dv push W2", dv: "W2 dv no-op push", unit: "s", target: "≤ 1 s", pass: le(1)},
		{goal: "P7", what: "no-op dv push W2: requests", dv: "W2 dv no-op push requests", unit: "count", worst: true, target: "≤ 5", pass: le(5)},
		{goal: "P7", what: "no-op dv pull W2", dv: "W2 dv no-op pull", unit: "s", target: "≤ 1 s", pass: le(1)},
		{goal: "P7", what: "no-op dv pull W2: requests", dv: "W2 dv no-op pull requests", unit: "count", worst: true, target: "≤ 5", pass: le(5)},
		{goal: "P7", what: "no-op dv push W1", dv: "W1 dv no-op push", unit: "s", target: "≤ 1 s", pass: le(1)},
		{goal: "P7", what: "no-op dv push W1: requests", dv: "W1 dv no-op push requests", unit: "count", worst: true, target: "≤ 5", pass: le(5)},
		{goal: "P7", what: "no-op dv pull W1", dv: "W1 dv no-op pull", unit: "s", target: "≤ 1 s", pass: le(1)},
		{goal: "P7", what: "no-op dv pull W1: requests", dv: "W1 dv no-op pull requests", unit: "count", worst: true, target: "≤ 5", pass: le(5)},
	}
}
