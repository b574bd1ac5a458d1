// Command dvbench measures dv against its performance goals (PERF.md).
//
//	go run ./cmd/dvbench [-runs 5] [-only P1,P2,P3,P4,P5,P6,P7,P8,P9,P10,P11,P12,P13,P14] [-scale 1.0] [-cores 2,4,8,all] [-keep] [-dir DIR]
//
// It builds dv, generates the workloads in a temporary folder (never in the
// repository), runs dv and every installed peer tool (cp, find, b3sum,
// restic, git-lfs) on the same data in the same run, and prints one table:
// the median of the runs for each tool and the median of the per-run
// ratios dv/reference, with the goal's target and PASS or MISS. Peers that
// are not installed are skipped with a line saying so. The page cache is
// warm; every timed command starts after a sync, in fresh target folders.
//
// P5, P6 and P7 need an S3 server: DV_S3_ENDPOINT (with the AWS_*
// credentials), or versitygw (DV_VERSITYGW, or $(go env GOPATH)/bin/versitygw)
// which dvbench then starts on a free loopback port; without either they
// are skipped with a line saying so. .ci/bench starts one. dv's remote
// points at a counting proxy in front of the server (s3server.go). P9
// generates W6 with real dv commands (lineage.go), P11 W7 (registry.go);
// their size follows -scale. P12 drifts W12 (drift.go), P13 exports W13
// (export.go), P14 adds two releases of a real tree (the Go toolchain from
// the Go module proxy, realtree.go; skipped with a line saying so when the
// proxy cannot serve it; a subset at -scale below 1). P8 is the peak RSS of dv add W1 (wait4's ru_maxrss). Store
// sizes are compared with restic's repository where restic is installed.
//
// -cores runs every goal again for each CPU count, each command under
// taskset -c 0-(n-1) ("all": no taskset), and prints one table per count;
// counts above the machine's CPUs are skipped with a line saying so.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var allGoals = []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11", "P12", "P13", "P14"}

type config struct {
	runs  int
	only  map[string]bool
	scale float64
	keep  bool
	dir   string
	cores []int // -cores: CPU counts to sweep (0: all); nil: no sweep
}

func (c config) want(goal string) bool { return c.only[goal] }

// bench is one benchmark run: the built dv, the data, the results.
type bench struct {
	cfg  config
	repo string // the dv module's root
	root string // the temporary folder
	dv   string // the dv binary
	p    peers
	w    workloads
	res  *results
	log  io.Writer
	s3   *s3env     // P5–P7: the server and proxy; nil when skipped
	s3p  s3projects // P5–P7: the projects pushed from
	w6   w6         // P9: the lineage project
	w7   w7         // P11: the registry project
	w12  w12        // P12: the drift CSVs
	w13  w13        // P13: the exported model
	w14  w14        // P14: the real tree's two releases
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == launcherArg {
		os.Exit(launch(os.Args[2:]))
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dvbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cfg)
	stop()
	os.Exit(code)
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("dvbench", flag.ContinueOnError)
	runs := fs.Int("runs", 5, "runs per measurement (the median is reported)")
	only := fs.String("only", strings.Join(allGoals, ","), "comma-separated goals to measure")
	scale := fs.Float64("scale", 1.0, "scale the workloads' sizes and file counts (e.g. 0.05 for a quick run)")
	keep := fs.Bool("keep", false, "keep the temporary folder with the workloads")
	dir := fs.String("dir", os.TempDir(), "where to create the temporary folder")
	cores := fs.String("cores", "", "CPU counts to sweep, e.g. 2,4,8,all: every goal runs under taskset with that many CPUs")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := config{runs: *runs, scale: *scale, keep: *keep, dir: *dir, only: map[string]bool{}}
	if cfg.runs < 1 {
		return cfg, fmt.Errorf("-runs must be at least 1")
	}
	if cfg.scale <= 0 || cfg.scale > 10 {
		return cfg, fmt.Errorf("-scale must be in (0, 10]")
	}
	if *cores != "" {
		for _, c := range strings.Split(*cores, ",") {
			c = strings.TrimSpace(c)
			if c == "all" {
				cfg.cores = append(cfg.cores, 0)
				continue
			}
			n, err := strconv.Atoi(c)
			if err != nil || n < 1 {
				return cfg, fmt.Errorf("-cores: %q is not a CPU count or all", c)
			}
			cfg.cores = append(cfg.cores, n)
		}
	}
	for _, g := range strings.Split(*only, ",") {
		g = strings.ToUpper(strings.TrimSpace(g))
		if !slices.Contains(allGoals, g) {
			return cfg, fmt.Errorf("-only: unknown goal %q (want some of %s)", g, strings.Join(allGoals, ","))
		}
		cfg.only[g] = true
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config) int {
	b := &bench{cfg: cfg, res: newResults(cfg.runs), log: os.Stderr}
	if err := b.setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dvbench:", err)
		b.cleanup()
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	var err error
	if cfg.cores == nil {
		err = b.measureAndPrint(ctx, out)
	} else {
		header := b.res.header
		nproc := runtime.NumCPU()
		for _, n := range cfg.cores {
			if n > nproc {
				line := fmt.Sprintf("cores sweep: %d cores skipped: this machine has %d", n, nproc)
				b.logf("%s", line)
				fmt.Fprintf(out, "\n%s\n", line)
				continue
			}
			if _, err := exec.LookPath("taskset"); err != nil && n > 0 && n < nproc {
				line := fmt.Sprintf("cores sweep: %d cores skipped: taskset is not installed (util-linux)", n)
				b.logf("%s", line)
				fmt.Fprintf(out, "\n%s\n", line)
				continue
			}
			b.res = newResults(cfg.runs)
			b.res.header = slices.Clone(header)
			cpuList = ""
			what := fmt.Sprintf("all %d cores (no taskset)", nproc)
			if n > 0 && n < nproc {
				cpuList = fmt.Sprintf("0-%d", n-1)
				what = fmt.Sprintf("%d cores (taskset -c %s)", n, cpuList)
			}
			b.res.header = append(b.res.header, "cores sweep: "+what)
			b.logf("cores sweep: %s", what)
			fmt.Fprintf(out, "\n=== %s ===\n", what)
			if err = b.measureAndPrint(ctx, out); err != nil {
				break
			}
		}
		cpuList = ""
	}
	_ = out.Flush()
	b.cleanup()
	if err != nil {
		return 1
	}
	return 0
}

// measureAndPrint measures every selected goal and prints the table.
func (b *bench) measureAndPrint(ctx context.Context, out *bufio.Writer) error {
	err := b.measure(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dvbench:", err)
	}
	b.res.note("load average at end: %s", loadAvg())
	fmt.Fprintln(out)
	b.res.print(out, tableRows(b))
	b.res.printRuns(out)
	_ = out.Flush()
	return err
}

// setup builds dv, finds the peers and generates the workloads.
func (b *bench) setup(ctx context.Context) error {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return fmt.Errorf("run dvbench from inside the dv module (go env GOMOD: %v)", err)
	}
	b.repo = filepath.Dir(strings.TrimSpace(string(gomod)))
	parent, err := filepath.Abs(b.cfg.dir)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(b.repo, parent); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("-dir %s is inside the repository %s; workloads never go there", parent, b.repo)
	}
	if b.root, err = os.MkdirTemp(parent, "dvbench-"); err != nil {
		return err
	}
	b.dv = filepath.Join(b.root, "bin", "dv")
	b.logf("building dv into %s", b.dv)
	if _, err := command(ctx, b.repo, nil, "go", "build", "-o", b.dv, "./cmd/dv"); err != nil {
		return err
	}

	p, versions, missing := detectPeers(ctx)
	b.p = p
	for _, m := range missing {
		b.logf("%s", m)
		b.res.note("%s", m)
	}
	if h := installHint(p); h != "" {
		b.logf("%s", h)
		b.res.note("%s", h)
	}
	b.header(ctx, versions)
	return b.generate(ctx)
}

func (b *bench) generate(ctx context.Context) error {
	c, w := b.cfg, &b.w
	step := func(name string, fn func() error) error {
		start := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("generate %s: %w", name, err)
		}
		b.logf("generated %s in %s", name, fmtSeconds(time.Since(start).Seconds()))
		return nil
	}
	if c.wantS3() {
		if err := b.startS3(ctx); err != nil {
			return err
		}
	}
	s3 := b.s3 != nil
	if c.want("P1") || c.want("P8") || (s3 && (c.want("P6") || c.want("P7"))) {
		if err := step("W1", func() error { return genW1(b.root, c.scale, w) }); err != nil {
			return err
		}
	}
	if c.want("P2") || c.want("P3") || c.want("P10") || (s3 && (c.want("P5") || c.want("P7"))) {
		if err := step("W2", func() error { return genW2(ctx, b.root, c.scale, w) }); err != nil {
			return err
		}
	}
	if c.want("P3") && b.p.git {
		w.w3GitDir = filepath.Join(b.root, "w3-git")
		if err := step("the git index of W3", func() error {
			return gitAddTree(ctx, w.w3GitDir, filepath.Join(w.w2Dir, w.w2Name))
		}); err != nil {
			return err
		}
	}
	if c.want("P4") {
		if err := step("W4", func() error { return genW4(b.root, c.scale, w) }); err != nil {
			return err
		}
	}
	if s3 {
		if err := step("the S3 projects", func() error { return b.prepareS3(ctx) }); err != nil {
			return err
		}
	}
	if c.want("P9") {
		if err := step("W6", func() error { return b.genW6(ctx) }); err != nil {
			return err
		}
	}
	if c.want("P11") {
		if err := step("W7", func() error { return b.genW7(ctx) }); err != nil {
			return err
		}
	}
	if c.want("P12") {
		if err := step("W12", func() error { return b.genW12(ctx) }); err != nil {
			return err
		}
	}
	if c.want("P13") {
		if err := step("W13", func() error { return b.genW13(ctx) }); err != nil {
			return err
		}
	}
	if c.want("P14") {
		var skip string
		if err := step("W14", func() (err error) { skip, err = b.genW14(ctx); return err }); err != nil {
			return err
		}
		if skip != "" {
			b.logf("%s", skip)
			b.res.note("%s", skip)
		}
	}
	syncAll(ctx)
	b.res.header = append(b.res.header, b.describeWorkloads()...)
	return ctx.Err()
}

func (b *bench) describeWorkloads() []string {
	var out []string
	w := b.w
	if w.w1Dir != "" {
		out = append(out, fmt.Sprintf("W1: one file of %s random bytes", humanBytes(w.w1Bytes)))
	}
	if w.w2Dir != "" {
		out = append(out, fmt.Sprintf("W2/W3: %d files of %s random bytes in %d folders (%s)",
			w.w2Files, humanBytes(w2FileSize), w2Dirs, humanBytes(w.w2Bytes)))
	}
	if w.w4V1 != "" {
		out = append(out, fmt.Sprintf("W4: CSV v1 %d rows (%s); v2 %d rows edited in 10 runs + %d appended (%s)",
			w.w4Rows, humanBytes(w.w4Bytes1), w.w4Edited, w.w4Appended, humanBytes(w.w4Bytes2)))
	}
	if w.w1Dir != "" && b.s3 != nil {
		out = append(out, "W5: dv push and pull of W1 and W2, timed straight to the server against the raw SDK, and again through the counting proxy for dv's request counts")
	}
	if b.w6.dir != "" {
		out = append(out, b.describeW6())
	}
	if b.w7.dir != "" {
		out = append(out, b.describeW7())
	}
	if b.w12.ref != "" {
		out = append(out, b.describeW12())
	}
	if b.w13.dir != "" {
		out = append(out, fmt.Sprintf("W13 (P13): a model version of one file of %s random bytes, exported in each format", humanBytes(b.w13.bytes)))
	}
	if b.w14.dir != "" {
		out = append(out, b.describeW14())
	}
	return out
}

// measure runs every selected goal, run by run, so that the ratios pair
// figures of the same run.
func (b *bench) measure(ctx context.Context) error {
	type wl struct {
		name string
		on   bool
		dir  string
		fn   func(context.Context, int) error
	}
	c := b.cfg
	for _, x := range []wl{
		{"W1", c.want("P1") || c.want("P8"), filepath.Join(b.w.w1Dir, b.w.w1Name), b.runW1},
		{"W2", c.want("P2") || c.want("P3") || c.want("P10"), filepath.Join(b.w.w2Dir, b.w.w2Name), b.runW2},
		{"W4", c.want("P4"), b.w.w4V1, b.runW4},
		{"S3 W2", b.s3 != nil && (c.want("P5") || c.want("P7")), filepath.Join(b.w.w2Dir, b.w.w2Name), b.runS3W2},
		{"S3 W1", b.s3 != nil && (c.want("P6") || c.want("P7")), filepath.Join(b.w.w1Dir, b.w.w1Name), b.runS3W1},
		{"W6", c.want("P9"), b.w6.dir, b.runW6},
		{"W7", c.want("P11"), b.w7.dir, b.runW7},
		{"W12", c.want("P12"), b.w12.ref, b.runW12},
		{"W13", c.want("P13"), filepath.Join(b.w13.dir, b.w13.name), b.runW13},
		{"W14", c.want("P14") && b.w14.dir != "", filepath.Dir(b.w14.dir), b.runW14},
	} {
		if !x.on {
			continue
		}
		if err := warm(x.dir); err != nil {
			return err
		}
		for i := range c.runs {
			if err := ctx.Err(); err != nil {
				return err
			}
			b.logf("%s run %d/%d", x.name, i+1, c.runs)
			if err := x.fn(ctx, i); err != nil {
				return fmt.Errorf("%s run %d: %w", x.name, i+1, err)
			}
		}
	}
	return nil
}

// header records the machine, the dv version and the peers' versions.
func (b *bench) header(ctx context.Context, versions []string) {
	h := &b.res.header
	add := func(format string, args ...any) { *h = append(*h, fmt.Sprintf(format, args...)) }
	add("dvbench %s, runs %d, scale %g, goals %s", time.Now().Format(time.RFC3339), b.cfg.runs, b.cfg.scale, strings.Join(b.goals(), ","))
	add("machine: %d CPUs (nproc), %s, %s memory, %s/%s", runtime.NumCPU(), cpuModel(), memTotal(), runtime.GOOS, runtime.GOARCH)
	dvv := "unknown"
	if out, err := command(ctx, "", nil, b.dv, "--json", "version"); err == nil {
		var v struct{ Version, Go string }
		if json.Unmarshal(out, &v) == nil {
			dvv = v.Version + " (" + v.Go + ")"
		}
	}
	if out, err := command(ctx, b.repo, nil, "git", "describe", "--always", "--dirty"); err == nil {
		dvv += ", commit " + strings.TrimSpace(string(out))
	}
	add("dv: %s", dvv)
	add("load average at start: %s", loadAvg())
	add("peers: %s", strings.Join(versions, "; "))
	add("data in %s", b.root)
}

func (b *bench) goals() []string {
	var g []string
	for _, x := range allGoals {
		if b.cfg.want(x) {
			g = append(g, x)
		}
	}
	return g
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAvg returns the 1, 5 and 15 minute load averages, with a warning
// when other work competes for the CPUs: then every figure is noisy.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	s := strings.Join(f[:3], " ")
	var one float64
	if _, err := fmt.Sscanf(f[0], "%g", &one); err == nil && one > float64(runtime.NumCPU())/2 {
		s += fmt.Sprintf(" (busy: other work competes for the %d CPUs, figures are noisy)", runtime.NumCPU())
	}
	return s
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	var kb int64
	for _, l := range strings.Split(string(data), "\n") {
		if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
			return humanBytes(kb << 10)
		}
	}
	return "unknown"
}

func (b *bench) cleanup() {
	b.s3.close()
	if b.root == "" {
		return
	}
	if b.cfg.keep {
		fmt.Fprintf(os.Stderr, "dvbench: kept %s\n", b.root)
		return
	}
	if err := os.RemoveAll(b.root); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "dvbench: remove %s: %v\n", b.root, err)
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "dvbench: "+format+"\n", args...)
}
