package dvcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/train/registry"
)

const promoteHelp = `Compares a version of MODEL (default: the newest) with the version holding
ALIAS (default: promotion.alias in dv.yaml, else production) by the
promotion criteria in dv.yaml, prints the comparison table, records the
decision in the model's event chain, and moves the alias when every rule
holds.

A criterion names a metric, a direction (higher or lower is better) and any
of: threshold (an absolute bound), min_improvement and
min_relative_improvement (over the holder), max_regression (a guard). With
slices (all, or a list) it must also hold in each slice of the metrics
file; slices below min_rows, or absent from the holder's metrics, are
reported as skipped. With no holder yet only thresholds apply.

Exit status: 0 promoted, 4 rejected (also with --dry-run, which decides
without recording or moving anything: for pull-request checks).
--force --reason TEXT overrides a rejection; it is recorded as forced.
Two people promoting at once: one wins, the other gets a conflict naming
the alias and runs dv promote again, against the new holder.
Each decision (not --dry-run) is sent as a promotion alert to the alerts:
webhooks of dv.yaml and to --notify URLs (docs/monitoring.md).
See docs/registry.md.`

func cmdPromote(e *env) *cli.Command {
	return &cli.Command{
		Name:        "promote",
		Usage:       "gate a model version by the rules in dv.yaml and move an alias to it",
		ArgsUsage:   "MODEL [VERSION]",
		Description: promoteHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the `ALIAS` to move (default: promotion.alias, else production)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "decide and print, record and move nothing"},
			&cli.BoolFlag{Name: "force", Usage: "promote even when the rules reject (needs --reason)"},
			&cli.StringFlag{Name: "reason", Usage: "why, recorded with the decision (`TEXT`)"},
			notifyFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() < 1 || cmd.Args().Len() > 2 {
				return usagef("promote takes MODEL [VERSION]")
			}
			o := registry.PromoteOptions{Model: cmd.Args().Get(0), Version: cmd.Args().Get(1), Alias: cmd.String("to"),
				DryRun: cmd.Bool("dry-run"), Force: cmd.Bool("force"), Reason: cmd.String("reason")}
			if err := o.Validate(); err != nil {
				return usageError{err}
			}
			r, rc, err := openWithRecorder(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			targets, err := projectAlerts(r, cmd.StringSlice("notify"))
			if err != nil {
				return err
			}
			d, err := registry.Promote(ctx, r, rc, o)
			if d != nil && (err == nil || errors.Is(err, registry.ErrRejected)) {
				if perr := printDecision(e, d); perr != nil {
					return perr
				}
				if !d.DryRun {
					notify(ctx, e, targets, promotionAlert(d))
				}
			}
			return err
		},
	}
}

// printDecision prints a decision's table and outcome (or its JSON).
func printDecision(e *env, d *registry.Decision) error {
	if e.json {
		return e.printJSON(d)
	}
	if e.quiet {
		return nil
	}
	holder := "no holder yet: only absolute thresholds apply"
	if d.Baseline != nil {
		holder = fmt.Sprintf("holder v%d (%s)", d.Baseline.Number, d.Baseline.ID.Short())
	}
	e.printf("%s v%d (%s) for %s; %s\n", d.Model, d.Candidate.Number, d.Candidate.ID.Short(), d.Alias, holder)
	if len(d.Checks) > 0 {
		if err := printChecks(e, d.Checks); err != nil {
			return err
		}
	}
	prefix := ""
	if d.DryRun {
		prefix = "dry run, nothing recorded: would be "
	}
	switch d.Decision {
	case registry.DecisionPromoted, registry.DecisionForced:
		e.printf("%s%s: %s v%d now holds %s%s\n", prefix, d.Decision, d.Model, d.Candidate.Number, d.Alias, eventText(d))
	case registry.DecisionRolledBack:
		e.printf("rolled back: %s v%d holds %s again, instead of v%d%s\n", d.Model, d.Candidate.Number, d.Alias, d.Baseline.Number, eventText(d))
	default:
		e.printf("%s%s: %s v%d does not get %s%s\n", prefix, d.Decision, d.Model, d.Candidate.Number, d.Alias, eventText(d))
	}
	return nil
}

func eventText(d *registry.Decision) string {
	if d.Event.IsZero() {
		return ""
	}
	return " (event " + d.Event.Short() + ")"
}

// printChecks prints an evaluation table.
func printChecks(e *env, checks []lineage.Check) error {
	bw := bufio.NewWriter(e.stdout)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tSLICE\tBASELINE\tCANDIDATE\tCHANGE\tRULE\tRESULT\tNOTE")
	for _, c := range checks {
		slice := c.Slice
		if slice == "" {
			slice = "overall"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", tabless(c.Metric), tabless(slice), optNum(c.Baseline, false),
			optNum(c.Candidate, false), optNum(c.Change, true), c.Rule, c.Result, tabless(orDash(c.Note)))
	}
	return errors.Join(tw.Flush(), bw.Flush())
}

func optNum(f *float64, sign bool) string {
	if f == nil {
		return "-"
	}
	s := strconv.FormatFloat(*f, 'g', 6, 64)
	if sign && *f > 0 {
		s = "+" + s
	}
	return s
}
