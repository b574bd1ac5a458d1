package main

// P11: the registry at scale. W7 is one model with w7Versions versions
// and w7Events decisions on it (10,000 each at -scale 1), all made by real
// dv commands: v1 is trained with per-slice metrics and promoted (no
// holder: the threshold alone), the middle versions are added in batches
// (dv add --kind model --name big FILES...: one version a file), each of
// them is put to the gate once (dv promote big vN: rejected, recorded),
// and the last version is trained better than v1 in every slice. The
// timed runs only read it: dv promote --dry-run of the last version
// against v1, dv models, and the resolution of big@v1 (the oldest version,
// 10,000 back) and big@production.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

const (
	w7Versions = 10_000 // W7: versions of one model at -scale 1
	w7Events   = 10_000 // W7: decisions on it at -scale 1
	w7Batch    = 250    // files per dv add
)

// w7 is the generated W7 project.
type w7 struct {
	dir              string
	versions, events int
	genSecs          float64
	mid              string // a moment between the first and the last decision
	commands         int
	perPromote       float64
}

const w7YAML = `version: 1
project: p11
goal: keep the best model in production
kpi: {name: revenue, direction: higher}
metrics: {primary: rmse}
promotion:
  alias: production
  criteria:
    - {metric: rmse, direction: lower, threshold: 2.0, min_relative_improvement: 0.02}
    - {metric: rmse, direction: lower, slices: all, max_regression: 0.05, min_rows: 100}
    - {metric: revenue, direction: higher, max_regression: 0.0}
`

// genW7 makes the W7 project with real dv commands.
func (b *bench) genW7(ctx context.Context) error {
	w := &b.w7
	w.dir = filepath.Join(b.root, "w7")
	w.versions = int(scaled(w7Versions, b.cfg.scale, 10))
	w.events = min(int(scaled(w7Events, b.cfg.scale, 10)), w.versions-1)
	if err := os.MkdirAll(filepath.Join(w.dir, "m"), 0o755); err != nil {
		return err
	}
	if err := b.initProject(ctx, w.dir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.dir, "dv.yaml"), []byte(w7YAML), 0o644); err != nil {
		return err
	}
	dv := func(args ...string) error {
		_, err := command(ctx, w.dir, nil, b.dv, append([]string{"-q", "--no-progress"}, args...)...)
		w.commands++
		return err
	}
	train := func(rmse, revenue float64) error {
		return dv("train", "-n", "big", "-o", "model.bin", "-M", "metrics.json", "-p", fmt.Sprintf("rmse=%g", rmse), "--",
			"sh", "-c", fmt.Sprintf(`echo %g > model.bin && echo '{"rmse": %g, "revenue": %g, "slices": {"soil=clay": {"rmse": %g, "rows": 250}, "soil=sand": {"rmse": %g, "rows": 750}, "soil=peat": {"rmse": %g, "rows": 40}}}' > metrics.json`,
				rmse, rmse, revenue, rmse+0.1, rmse-0.1, rmse+0.5))
	}
	start, last := time.Now(), time.Now()
	b.logf("generating W7: %d versions of one model and %d decisions on it (about %d commands)",
		w.versions, w.events, w.events+w.versions/w7Batch+3)
	if err := train(1.9, 100); err != nil {
		return fmt.Errorf("W7 v1: %w", err)
	}
	if err := dv("promote", "big"); err != nil {
		return fmt.Errorf("W7 first promotion: %w", err)
	}
	for n := 2; n < w.versions; {
		var files []string
		for ; n < w.versions && len(files) < w7Batch; n++ {
			f := filepath.Join("m", strconv.Itoa(n)+".bin")
			if err := os.WriteFile(filepath.Join(w.dir, f), fmt.Appendf(nil, "model %d\n", n), 0o644); err != nil {
				return err
			}
			files = append(files, f)
		}
		if err := dv(append([]string{"add", "--kind", "model", "--name", "big"}, files...)...); err != nil {
			return fmt.Errorf("W7 versions: %w", err)
		}
	}
	promoteStart := time.Now()
	for e := 2; e <= w.events; e++ { // event 1 was v1's promotion
		if err := ctx.Err(); err != nil {
			return err
		}
		// Rejected: the added versions carry no metrics. Exit 4 is the
		// expected outcome; anything else is an error.
		err := dv("promote", "big", "v"+strconv.Itoa(e))
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 4 {
			return fmt.Errorf("W7 decision %d: want exit 4, got %v", e, err)
		}
		if e == w.events/2 {
			w.mid = time.Now().UTC().Format(time.RFC3339Nano)
		}
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			b.logf("  W7: %d/%d decisions in %s", e, w.events, fmtSeconds(time.Since(promoteStart).Seconds()))
		}
	}
	if w.mid == "" {
		w.mid = time.Now().UTC().Format(time.RFC3339Nano)
	}
	w.perPromote = time.Since(promoteStart).Seconds() / float64(max(1, w.events-1))
	if err := train(1.7, 103); err != nil { // the candidate: better everywhere
		return fmt.Errorf("W7 last version: %w", err)
	}
	w.genSecs = time.Since(start).Seconds()
	return nil
}

func (b *bench) describeW7() string {
	w := b.w7
	return fmt.Sprintf("W7: one model, %d versions and %d decisions (-scale %g of %d and %d), made by %d dv commands in %s (%.0f ms a dv promote)",
		w.versions, w.events, b.cfg.scale, w7Versions, w7Events, w.commands, fmtSeconds(w.genSecs), 1000*w.perPromote)
}

// runW7 is one run of P11.
func (b *bench) runW7(ctx context.Context, run int) error {
	dir := b.w7.dir
	for _, m := range []struct {
		key  string
		args []string
	}{
		{"W7 dv promote --dry-run", []string{"promote", "big", "--dry-run"}},
		{"W7 dv models", []string{"models", "big"}},
		{"W7 dv models --json", []string{"--json", "models", "big"}},
		{"W7 resolve big@v1", []string{"metrics", "show", "big@v1"}},
		{"W7 resolve big@production", []string{"metrics", "show", "big@production"}},
		{"W7 dv models --at", []string{"models", "big", "--alias", "production", "--at", b.w7.mid}},
	} {
		if _, err := b.dvTimed(ctx, m.key, run, dir, m.args...); err != nil {
			return fmt.Errorf("%s: %w", m.key, err)
		}
	}
	return nil
}

// registryRows are the table's rows of P11.
func registryRows(b *bench) []row {
	le := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	w := b.w7
	return []row{
		{goal: "P11", what: fmt.Sprintf("dv promote --dry-run (%d versions, %d events)", w.versions, w.events), dv: "W7 dv promote --dry-run", unit: "s", target: "≤ 0.3 s", pass: le(0.3)},
		{goal: "P11", what: "dv models big", dv: "W7 dv models", unit: "s", target: "≤ 0.3 s", pass: le(0.3)},
		{goal: "P11", what: "resolve big@v1", dv: "W7 resolve big@v1", unit: "s", target: "≤ 0.3 s", pass: le(0.3)},
		{goal: "P11", what: "resolve big@production", dv: "W7 resolve big@production", unit: "s", target: "≤ 0.3 s", pass: le(0.3)},
		{goal: "P11", what: "dv --json models big", dv: "W7 dv models --json", unit: "s", target: "info"},
		{goal: "P11", what: "dv models big --alias production --at T", dv: "W7 dv models --at", unit: "s", target: "info"},
		{goal: "P11", what: "dv models: CPU time (user+sys)", dv: "W7 dv models cpu", unit: "s", target: "info"},
	}
}
