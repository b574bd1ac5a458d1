package main

// P9: dv log and dv lineage over W6, a project whose lineage graph holds
// w6Records records (10,000 at -scale 1), all made by real dv commands:
// every 100th command adds a new version of the dataset raw, every 10th
// trains a model (dv train: a run, a model version and its metrics) on
// feat.txt, and the others run an ETL step (dv run: a run and a new
// version of feat.txt) on raw, each with a param that changes so that the
// run cache never answers. The project is generated once and kept for the
// timed runs, which only read it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const w6Records = 10_000 // W6: records in the lineage graph at -scale 1

// w6 is the generated W6 project.
type w6 struct {
	dir         string
	records     int // records dv log lists
	commands    int // dv commands that made them
	genSecs     float64
	firstData   string // the record id of raw's first version
	lastModel   string // the ref of the last model
	byType      map[string]int
	perCommand  float64 // seconds per generating command
	recordsWant int
}

// genW6 makes the W6 project with real dv commands.
func (b *bench) genW6(ctx context.Context) error {
	w := &b.w6
	w.dir = filepath.Join(b.root, "w6")
	w.recordsWant = int(scaled(w6Records, b.cfg.scale, 100))
	w.lastModel = "models/model"
	if err := os.MkdirAll(filepath.Join(w.dir, "raw"), 0o755); err != nil {
		return err
	}
	if err := b.initProject(ctx, w.dir); err != nil {
		return err
	}
	if b.p.git {
		for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "W6 project"}} {
			if _, err := command(ctx, w.dir, gitEnv, "git", args...); err != nil {
				return err
			}
		}
	}
	dv := func(args ...string) error {
		_, err := command(ctx, w.dir, nil, b.dv, append([]string{"-q", "--no-progress"}, args...)...)
		w.commands++
		return err
	}
	start, last := time.Now(), time.Now()
	b.logf("generating W6: %d records with dv add, dv run and dv train (about %d commands)",
		w.recordsWant, w.recordsWant*100/208)
	made := 0
	for i := 0; made < w.recordsWant; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch {
		case i%100 == 0: // a new version of the dataset
			if err = os.WriteFile(filepath.Join(w.dir, "raw", "source.csv"),
				fmt.Appendf(nil, "id,value\n%d,%d\n", i, i*7), 0o644); err != nil {
				return err
			}
			err = dv("add", "raw")
			made++
			if i == 0 && err == nil {
				w.firstData, err = pointerRecord(filepath.Join(w.dir, "raw.dv"))
			}
		case i%10 == 0: // training: run, model version, metrics
			n := strconv.Itoa(i)
			err = dv("train", "-n", "model", "-d", "feat.txt", "-o", "model.bin", "-M", "metrics.json", "-p", "i="+n, "--",
				"sh", "-c", fmt.Sprintf(`echo model %s > model.bin && echo '{"acc": %g, "loss": %g}' > metrics.json`,
					n, float64(i%1000)/1000, 1/float64(i+1)))
			made += 3
		default: // ETL step: run, new version of feat.txt
			n := strconv.Itoa(i)
			err = dv("run", "-n", "etl", "-d", "raw", "-o", "feat.txt", "-p", "i="+n, "--",
				"sh", "-c", "echo feature "+n+" > feat.txt")
			made += 2
		}
		if err != nil {
			return fmt.Errorf("command %d: %w", w.commands, err)
		}
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			el := time.Since(start).Seconds()
			b.logf("  W6: %d/%d records, %d commands in %s (%.0f ms each)", made, w.recordsWant, w.commands,
				fmtSeconds(el), 1000*el/float64(w.commands))
		}
	}
	w.genSecs = time.Since(start).Seconds()
	w.perCommand = w.genSecs / float64(w.commands)
	// What dv log lists: the records, by type.
	out, err := command(ctx, w.dir, nil, b.dv, "--json", "log")
	if err != nil {
		return err
	}
	var recs []struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(out, &recs); err != nil {
		return fmt.Errorf("dv --json log: %w", err)
	}
	w.records, w.byType = len(recs), map[string]int{}
	for _, r := range recs {
		w.byType[r.Type]++
	}
	if w.records < made {
		b.res.note("W6: dv log lists %d records; the commands made %d", w.records, made)
	}
	return nil
}

// pointerRecord reads the record id a pointer file names.
func pointerRecord(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "record" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s names no record", path)
}

func (b *bench) describeW6() string {
	w := b.w6
	var types []string
	for _, t := range []string{"dataset", "run", "model", "metrics"} {
		types = append(types, fmt.Sprintf("%d %s", w.byType[t], t))
	}
	return fmt.Sprintf("W6: %d records (%s; -scale %g of %d) made by %d dv add/run/train commands in %s (%.0f ms each)",
		w.records, strings.Join(types, ", "), b.cfg.scale, w6Records, w.commands, fmtSeconds(w.genSecs), 1000*w.perCommand)
}

// runW6 is one run of P9: dv log, dv lineage of the last model (up), and
// dv lineage --down of raw's first version, in the text format.
func (b *bench) runW6(ctx context.Context, run int) error {
	dir := b.w6.dir
	for _, m := range []struct {
		key  string
		args []string
	}{
		{"W6 dv log", []string{"log"}},
		{"W6 dv log -n 20", []string{"log", "-n", "20"}},
		{"W6 dv lineage up", []string{"lineage", b.w6.lastModel}},
		{"W6 dv lineage down", []string{"lineage", "--down", b.w6.firstData}},
		{"W6 dv lineage down json", []string{"lineage", "--down", "--format", "json", b.w6.firstData}},
	} {
		out, err := b.dvTimed(ctx, m.key, run, dir, m.args...)
		if err == nil {
			b.res.set(m.key+" output", run, float64(len(out)))
			b.res.set(m.key+" lines", run, float64(bytes.Count(out, []byte("\n"))))
		}
	}
	return nil
}

// lineageRows are the table's rows of P9.
func lineageRows(b *bench) []row {
	le := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	n := b.w6.records
	return []row{
		{goal: "P9", what: fmt.Sprintf("dv log (%d records)", n), dv: "W6 dv log", unit: "s", target: "≤ 0.5 s", pass: le(0.5)},
		{goal: "P9", what: "dv lineage " + b.w6.lastModel + " (up)", dv: "W6 dv lineage up", unit: "s", target: "≤ 0.5 s", pass: le(0.5)},
		{goal: "P9", what: "dv lineage --down <raw's first version>", dv: "W6 dv lineage down", unit: "s", target: "≤ 0.5 s", pass: le(0.5)},
		{goal: "P9", what: "dv log -n 20", dv: "W6 dv log -n 20", unit: "s", target: "info"},
		{goal: "P9", what: "dv lineage --down --format json", dv: "W6 dv lineage down json", unit: "s", target: "info"},
		{goal: "P9", what: "dv log: CPU time (user+sys)", dv: "W6 dv log cpu", unit: "s", target: "info"},
		{goal: "P9", what: "dv log: output", dv: "W6 dv log output", unit: "bytes", target: "info"},
		{goal: "P9", what: "dv lineage up: output lines", dv: "W6 dv lineage up lines", unit: "count", target: "info"},
		{goal: "P9", what: "dv lineage --down: output lines", dv: "W6 dv lineage down lines", unit: "count", target: "info"},
		{goal: "P9", what: "dv lineage --down: output", dv: "W6 dv lineage down output", unit: "bytes", target: "info"},
		{goal: "P9", what: "dv lineage --down json: output", dv: "W6 dv lineage down json output", unit: "bytes", target: "info"},
	}
}
