package dvcli

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/train/drift"
)

func cmdDrift(e *env) *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "per-column drift of current data against a reference (exit 5 when the data drifted)",
		Description: "REF is tracked data (crop, crop.csv, a record id), DATA@vN, or MODEL@ALIAS / MODEL@vN for\n" +
			"the data that model version was trained on (found through its run). CUR is a file or folder\n" +
			"on disk (.csv, .tsv, .parquet) or tracked data as for REF. Each column gets the method dv.yaml's\n" +
			"drift: section or --method names, else the default (KS, chi-square or z-test up to 1000\n" +
			"reference rows; Wasserstein or Jensen-Shannon beyond). The data drifts when at least\n" +
			"dataset_share (0.5) of the columns do: then dv drift exits 5. Each check is recorded (dv log).\n" +
			"See docs/drift.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reference", Aliases: []string{"r"}, Usage: "the reference `REF` (DATA[@VERSION] or MODEL@ALIAS)"},
			&cli.StringFlag{Name: "current", Aliases: []string{"c"}, Usage: "the current data `CUR` (PATH or DATA@VERSION)"},
			&cli.StringFlag{Name: "columns", Usage: "check only columns `C,...` (default: every column of the reference)"},
			&cli.StringFlag{Name: "method", Aliases: []string{"m"}, Usage: "`METHOD` for every column: " + strings.Join(drift.Methods, ", ")},
			&cli.StringFlag{Name: "threshold", Aliases: []string{"t"}, Usage: "drift threshold `X` for every column (a p-value for ks, chisquare, ztest; a distance otherwise)"},
			&cli.StringFlag{Name: "memory", Usage: "memory `BYTES` for exact statistics (e.g. 64MiB); past it a quantile sketch is used", Value: "256MiB"},
			notifyFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return usagef("drift takes no arguments (use --reference and --current)")
			}
			a := driftArgs{reference: cmd.String("reference"), current: cmd.String("current"),
				columns: cmd.String("columns"), method: cmd.String("method"), threshold: cmd.String("threshold"),
				memory: cmd.String("memory"), notify: cmd.StringSlice("notify")}
			opts, err := a.options()
			if err != nil {
				return err
			}
			return runDrift(ctx, e, a, opts)
		},
	}
}

// driftArgs are dv drift's flags, read once in the Action.
type driftArgs struct {
	reference, current, columns, method, threshold, memory string
	notify                                                 []string
}

// options parses the flags.
func (a driftArgs) options() (drift.Options, error) {
	opts := drift.Options{Method: a.method, Threshold: math.NaN()}
	if a.reference == "" || a.current == "" {
		return opts, usagef("drift needs --reference REF and --current CUR")
	}
	if err := drift.CheckMethod(opts.Method); err != nil {
		return opts, usagef("--method: %v", err)
	}
	if t := a.threshold; t != "" {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return opts, usagef("--threshold %q: not a number ≥ 0", t)
		}
		opts.Threshold = v
	}
	if c := a.columns; c != "" {
		for _, name := range strings.Split(c, ",") {
			if name = strings.TrimSpace(name); name == "" {
				return opts, usagef("--columns %q: an empty column name", c)
			}
			opts.Columns = append(opts.Columns, strings.TrimSpace(name))
		}
	}
	n, err := drift.ParseBytes(a.memory)
	if err != nil {
		return opts, usagef("--memory: %v", err)
	}
	opts.MemoryBudget = n
	return opts, nil
}

func runDrift(ctx context.Context, e *env, a driftArgs, opts drift.Options) error {
	r, cfg, err := openWithConfig()
	if err != nil {
		return err
	}
	defer r.Close()
	if opts.Config, err = drift.LoadConfig(cfg); err != nil {
		return err
	}
	targets, err := alertTargets(cfg, a.notify)
	if err != nil {
		return err
	}
	if opts.Recorder, err = newRecorder(ctx, r); err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Hold the heap to the budget (plus room for buffers), so memory
		// the sketches free is reused rather than grown past.
		debug.SetMemoryLimit(opts.MemoryBudget + 48<<20)
	}
	rep, err := drift.Run(ctx, r, a.reference, a.current, opts)
	if err != nil {
		return err
	}
	if e.json {
		err = e.printJSON(rep)
	} else {
		err = printDrift(e, rep)
	}
	if err != nil {
		return err
	}
	if ev, ok := rep.Alert(); ok {
		notify(ctx, e, targets, ev)
	}
	return rep.Err() // exit 5 on drift
}

func printDrift(e *env, rep *drift.Report) error {
	if e.quiet {
		return nil
	}
	d := rep.Drift
	e.printf("reference %s  current %s\n", rep.Name, rep.Current.Path)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tTYPE\tROWS\tMISSING\tMETHOD\tSTATISTIC\tTHRESHOLD\tDRIFT")
	for _, c := range d.Columns {
		stat := formatScore(c)
		yes := "no"
		if c.Drift {
			yes = "yes"
		}
		if c.ErrorBound > 0 {
			stat += fmt.Sprintf(" (±%.2g)", c.ErrorBound)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d/%d\t%s\t%s\t%g\t%s\n", c.Column, c.Type, c.RefRows, c.CurRows,
			c.RefMissing, c.CurMissing, c.Method, stat, c.Threshold, yes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if d.Approximate {
		e.printf("approximate: past the memory budget, numeric columns were summarized by a quantile sketch (rank error within ± the bound shown, as a share of rows)\n")
	}
	verdict := "no drift"
	if d.Detected {
		verdict = "DRIFT"
	}
	e.printf("%s: %d of %d columns drifted (dataset share %g)", verdict, d.Drifted, d.Checked, d.Share)
	if !rep.Record.IsZero() {
		e.printf("; recorded %s", rep.Record.Short())
	}
	e.printf("\n")
	return nil
}

// formatScore shows what was compared with the threshold: p=... for a
// test, the distance otherwise.
func formatScore(c lineage.DriftColumn) string {
	if c.PValue != nil {
		return "p=" + strconv.FormatFloat(float64(*c.PValue), 'g', 4, 64)
	}
	return strconv.FormatFloat(float64(c.Score), 'g', 4, 64)
}
