package main

// P12: dv drift on W12, a 1 GiB CSV of 7 columns (age, income, score, x1,
// x2: numbers; city, plan: categories) as the reference and a quarter of
// that, with income's mean moved, as the current data (sizes follow
// -scale), against the same tests done by pandas + SciPy (drift_ref.py,
// run with Debian's /usr/bin/python3) on the same files, in the same run:
// wall time, CPU time and peak RSS of each.

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

//go:embed drift_ref.py
var driftRefPy []byte

const w12Size = 1 << 30 // W12's reference CSV at -scale 1

// w12 is the generated drift workload.
type w12 struct {
	dir              string
	ref, cur         string
	refBytes, curB   int64
	refRows, curRows int64
	python           string // "" when pandas + SciPy are missing
	script           string
}

// genW12 writes the two CSV files and a dv project to record the checks.
func (b *bench) genW12(ctx context.Context) error {
	w := &b.w12
	w.dir = filepath.Join(b.root, "w12")
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	if err := b.initProject(ctx, w.dir); err != nil {
		return err
	}
	w.ref, w.cur = filepath.Join(b.root, "w12-ref.csv"), filepath.Join(b.root, "w12-cur.csv")
	var err error
	if w.refRows, w.refBytes, err = writeDriftCSV(w.ref, scaled(w12Size, b.cfg.scale, 1<<20), 50, 1); err != nil {
		return err
	}
	if w.curRows, w.curB, err = writeDriftCSV(w.cur, scaled(w12Size/4, b.cfg.scale, 1<<18), 53, 2); err != nil {
		return err
	}
	w.script = filepath.Join(b.root, "drift_ref.py")
	if err := os.WriteFile(w.script, driftRefPy, 0o644); err != nil {
		return err
	}
	if exec.CommandContext(ctx, "/usr/bin/python3", "-c", "import pandas, scipy").Run() == nil {
		w.python = "/usr/bin/python3"
	} else {
		b.res.note("P12: pandas + SciPy missing (apt-get install python3-pandas python3-scipy): no reference for dv drift")
	}
	return nil
}

// writeDriftCSV writes about size bytes of rows; income has mean mu.
func writeDriftCSV(path string, size int64, mu float64, seed uint64) (rows, n int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	cw := &countWriter{w: f}
	w := bufio.NewWriterSize(cw, 1<<20)
	r := rand.New(rand.NewPCG(seed, 12))
	cities := []string{"north", "south", "east", "west", "center"}
	plans := []string{"basic", "pro", "max"}
	fmt.Fprintln(w, "age,income,score,x1,x2,city,plan")
	for cw.n+int64(w.Buffered()) < size {
		fmt.Fprintf(w, "%d,%.2f,%.4f,%.3f,%.3f,%s,%s\n", 18+r.IntN(62), mu+10*r.NormFloat64(), r.NormFloat64(),
			r.Float64()*100, r.ExpFloat64(), cities[r.IntN(5)], plans[r.IntN(3)])
		rows++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, 0, err
	}
	return rows, cw.n, f.Close()
}

type countWriter struct {
	w *os.File
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (b *bench) describeW12() string {
	w := b.w12
	return fmt.Sprintf("W12: reference CSV %d rows × 7 columns (%s), current %d rows (%s, income's mean moved by 0.3 sd)",
		w.refRows, humanBytes(w.refBytes), w.curRows, humanBytes(w.curB))
}

// measured runs a command and returns its wall and CPU seconds and peak
// RSS in bytes; exit codes in ok count as success.
func measured(ctx context.Context, dir, name string, args []string, ok ...int) (out []byte, wall, cpu float64, rss int64, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bufWriter
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	u, err := runMeasured(cmd)
	var ee *exec.ExitError
	if errors.As(err, &ee) && slices.Contains(ok, ee.ExitCode()) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("%s: %w: %.500s", name, err, stderr.b)
	}
	return stdout.b, u.Wall, u.CPU, u.RSS, err
}

type bufWriter struct{ b []byte }

func (w *bufWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// runW12 is one run of P12: dv drift, then pandas + SciPy (alternating
// which goes first), each timed with its peak RSS.
func (b *bench) runW12(ctx context.Context, run int) error {
	w := b.w12
	dv := func() error {
		syncAll(ctx)
		out, wall, cpu, rss, err := measured(ctx, w.dir, b.dv, []string{"--json", "drift", "-r", w.ref, "-c", w.cur}, 5)
		if err != nil {
			b.res.fail("W12 dv drift", run, err)
			return err
		}
		var rep struct {
			Drift struct {
				Approximate bool `json:"approximate"`
				Drifted     int  `json:"drifted"`
			} `json:"drift"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			return fmt.Errorf("dv drift --json: %w", err)
		}
		b.res.setSecs("W12 dv drift", run, wall)
		b.res.setSecs("W12 dv drift cpu", run, cpu)
		b.res.set("W12 dv drift rss", run, float64(rss))
		b.res.set("W12 dv drift MiB/s", run, float64(w.refBytes+w.curB)/(1<<20)/wall)
		b.res.set("W12 dv drifted columns", run, float64(rep.Drift.Drifted))
		b.logf("  %-24s %s, peak RSS %s, approximate %v", "W12 dv drift", fmtSeconds(wall), humanBytes(rss), rep.Drift.Approximate)
		return nil
	}
	py := func() error {
		if w.python == "" {
			return nil
		}
		syncAll(ctx)
		out, wall, cpu, rss, err := measured(ctx, w.dir, w.python, []string{w.script, w.ref, w.cur})
		if err != nil {
			b.res.fail("W12 pandas", run, err)
			return err
		}
		var ref struct {
			ReadSeconds float64 `json:"read_seconds"`
		}
		if err := json.Unmarshal(out, &ref); err != nil {
			return fmt.Errorf("drift_ref.py: %w", err)
		}
		b.res.setSecs("W12 pandas read_csv", run, ref.ReadSeconds)
		b.res.setSecs("W12 pandas", run, wall)
		b.res.setSecs("W12 pandas cpu", run, cpu)
		b.res.set("W12 pandas rss", run, float64(rss))
		b.logf("  %-24s %s, peak RSS %s", "W12 pandas+scipy", fmtSeconds(wall), humanBytes(rss))
		return nil
	}
	first, second := dv, py
	if run%2 == 1 {
		first, second = py, dv
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if w.python != "" {
		d, p := b.res.vals["W12 dv drift rss"], b.res.vals["W12 pandas rss"]
		if run < len(d) && run < len(p) && p[run] > 0 {
			b.res.set("W12 rss %", run, 100*d[run]/p[run])
		}
	}
	return nil
}

// driftRows are the table's rows of P12.
func driftRows(b *bench) []row {
	w := fmt.Sprintf("dv drift W12 (%s + %s)", humanBytes(b.w12.refBytes), humanBytes(b.w12.curB))
	return []row{
		{goal: "P12", what: w, dv: "W12 dv drift", ref: "W12 pandas", label: "pandas + SciPy", maxRatio: 1.0 / 3, target: "≤ 0.33× (3× faster)"},
		{goal: "P12", what: w, dv: "W12 dv drift", ref: "W12 pandas read_csv", label: "pandas read_csv only (1 core)", maxRatio: 1,
			target: "≤ 1× (one core's CSV read)"},
		{goal: "P12", what: "dv drift W12: peak RSS", dv: "W12 dv drift rss", unit: "bytes", worst: true, target: "≤ 256 MiB",
			pass: func(v float64) bool { return v <= 256<<20 }},
		{goal: "P12", what: "peak RSS: dv / pandas + SciPy", dv: "W12 rss %", unit: "%", worst: true, target: "≤ 25 %",
			pass: func(v float64) bool { return v <= 25 }},
		{goal: "P12", what: "pandas + SciPy: peak RSS", dv: "W12 pandas rss", unit: "bytes", target: "info"},
		{goal: "P12", what: "dv drift W12: throughput (MiB/s)", dv: "W12 dv drift MiB/s", unit: "count", target: "info"},
		{goal: "P12", what: "dv drift W12: CPU time (user+sys)", dv: "W12 dv drift cpu", unit: "s", target: "info"},
		{goal: "P12", what: "pandas + SciPy: CPU time (user+sys)", dv: "W12 pandas cpu", unit: "s", target: "info"},
		{goal: "P12", what: "dv drift W12: columns drifted (income)", dv: "W12 dv drifted columns", unit: "count", target: "info"},
	}
}
