package dvcli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/train"
)

func cmdMetrics(e *env) *cli.Command {
	return &cli.Command{
		Name:  "metrics",
		Usage: "show and compare the metrics of model versions and runs; record production metrics",
		Commands: []*cli.Command{
			cmdMetricsLog(e),
			{
				Name:      "show",
				Usage:     "show the metrics of a model (its latest version), a run or a record; all models when none is named",
				ArgsUsage: "[TARGET]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "history", Usage: "list the production metrics recorded on the model's versions (dv metrics log), newest first; MODEL@ALIAS or MODEL@vN: that version's"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() > 1 {
						return usagef("metrics show takes at most one TARGET")
					}
					if cmd.Bool("history") {
						if cmd.Args().Len() != 1 {
							return usagef("metrics show --history needs a MODEL (or MODEL@ALIAS)")
						}
						return metricsHistory(ctx, e, cmd.Args().First())
					}
					return metricsShow(ctx, e, cmd.Args().First())
				},
			},
			{
				Name:      "diff",
				Usage:     "compare the metrics of A and B (with only A: A's previous version and A)",
				ArgsUsage: "A [B]",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if n := cmd.Args().Len(); n < 1 || n > 2 {
						return usagef("metrics diff needs A [B]: two runs, models or versions")
					}
					return metricsDiff(ctx, e, cmd.Args().Get(0), cmd.Args().Get(1))
				},
			},
		},
	}
}

func metricsShow(ctx context.Context, e *env, target string) error {
	r, err := openRepo()
	if err != nil {
		return err
	}
	defer r.Close()
	all, err := train.ShowMetrics(ctx, r, localRefs(r), target)
	if err != nil {
		return err
	}
	if e.json {
		if target != "" {
			return e.printJSON(all[0])
		}
		return e.printJSON(all)
	}
	if len(all) == 0 {
		e.printf("No models with metrics yet (see dv train).\n")
	}
	for _, m := range all {
		name := orDash(m.Name)
		if m.Number > 0 {
			name += fmt.Sprintf("@v%d", m.Number)
		}
		e.printf("%s %s (%s)\n", m.Type, name, m.ID.Short())
		if len(m.Metrics) == 0 {
			e.printf("  no metrics recorded\n")
		}
		for _, k := range slices.Sorted(maps.Keys(m.Metrics)) {
			e.printf("  %s = %s\n", k, formatMetric(m.Metrics[k]))
		}
	}
	return nil
}

func metricsDiff(ctx context.Context, e *env, a, b string) error {
	r, err := openRepo()
	if err != nil {
		return err
	}
	defer r.Close()
	c, err := train.CompareMetrics(ctx, r, localRefs(r), a, b)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(c)
	}
	if e.quiet {
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "METRIC\tA %s\tB %s\tDELTA\n", c.A.ID.Short(), c.B.ID.Short())
	for _, d := range c.Metrics {
		delta := "-"
		if d.Delta != nil {
			delta = strconv.FormatFloat(*d.Delta, 'g', 6, 64)
			if *d.Delta >= 0 {
				delta = "+" + delta
			}
			if d.Relative != nil {
				delta += fmt.Sprintf(" (%+.1f%%)", *d.Relative*100)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Metric, metricOrDash(d.A), metricOrDash(d.B), delta)
	}
	return tw.Flush()
}
