package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// P13: dv export of a model of W1's size in each format, against cp plus
// sha256sum of the same file, with dv's peak RSS.

// w13 is P13's project: a model version of one file of random bytes.
type w13 struct {
	dir   string
	name  string
	bytes int64
}

// exportFormats are the formats P13 times: key suffix, --format, file name.
var exportFormats = []struct{ key, format, out string }{
	{"tar", "tar", "m.tar"},
	{"tar.zst", "tar", "m.tar.zst"},
	{"oci", "oci", "oci"},
	{"docker", "docker", "ctx"},
}

// genW13 writes the model and adds it as a model version.
func (b *bench) genW13(ctx context.Context) error {
	w := &b.w13
	w.dir, w.name = filepath.Join(b.root, "w13"), "model.bin"
	w.bytes = scaled(w1Size, b.cfg.scale, 1<<20)
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	if err := writeRandom(filepath.Join(w.dir, w.name), w.bytes, 13); err != nil {
		return err
	}
	if _, err := command(ctx, w.dir, nil, b.dv, "init", "--no-git"); err != nil {
		return err
	}
	_, err := command(ctx, w.dir, nil, b.dv, "-q", "--no-progress", "add", "--kind", "model", "--name", "m", w.name)
	return err
}

// runW13 is one run of P13.
func (b *bench) runW13(ctx context.Context, run int) error {
	w := b.w13
	src := filepath.Join(w.dir, w.name)
	if b.p.cp && b.p.sh && hasProg("sha256sum") {
		s, err := b.scratch("cp")
		if err != nil {
			return err
		}
		_ = b.timed(ctx, "W13 cp+sha256sum", run, func() error {
			_, err := command(ctx, "", nil, "sh", "-c", `cp "$1" "$2" && sha256sum "$1" >/dev/null`, "sh", src, filepath.Join(s, w.name))
			return err
		})
		b.clean(ctx, s)
	}
	for _, f := range exportFormats {
		s, err := b.scratch("export")
		if err != nil {
			return err
		}
		key := "W13 dv export " + f.key
		var rss int64
		_ = b.timed(ctx, key, run, func() (err error) {
			rss, err = commandRSS(ctx, w.dir, b.dv, "-q", "export", "m", "-o", filepath.Join(s, f.out), "--format", f.format)
			return err
		})
		if rss > 0 {
			b.res.set(key+" rss", run, float64(rss))
		}
		b.clean(ctx, s)
	}
	return nil
}

func hasProg(name string) bool { _, err := exec.LookPath(name); return err == nil }

// commandRSS runs name in dir and returns its peak resident set size.
func commandRSS(ctx context.Context, dir, name string, args ...string) (int64, error) {
	out, u, err := commandUsage(ctx, dir, nil, name, args...)
	if err != nil {
		return 0, fmt.Errorf("%w: %.500s", err, out)
	}
	return u.RSS, nil
}

// exportRows are P13's rows.
func exportRows(b *bench) []row {
	what := fmt.Sprintf("dv export of a %s model", humanBytes(b.w13.bytes))
	le := func(x float64) func(float64) bool { return func(v float64) bool { return v <= x } }
	var rows []row
	for _, f := range exportFormats {
		key := "W13 dv export " + f.key
		rows = append(rows,
			row{goal: "P13", what: what + ", --format " + f.key, dv: key, ref: "W13 cp+sha256sum", label: "cp + sha256sum",
				maxRatio: 1.5, target: "≤ 1.5×"},
			row{goal: "P13", what: "dv export peak RSS, --format " + f.key, dv: key + " rss", unit: "bytes", worst: true,
				target: "≤ 256 MiB", pass: le(256 << 20)})
	}
	return rows
}
