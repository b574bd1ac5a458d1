package dvcli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/registry"
)

func cmdRuns(e *env) *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "list recorded runs, newest first, with their params and metrics",
		Description: "Jobs submitted with dv run/train --on and not recorded yet are listed first (submitted,\n" +
			"running). --follow ID streams a job's log until its run is recorded; --cancel ID cancels it\n" +
			"and records the run failed. --env A prints a run's environment (OS, tools, lock files,\n" +
			"Python packages, GPUs, image); --env A B prints what differs between two runs'.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only the runs of step or model `NAME`"},
			&cli.StringFlag{Name: "log", Usage: "print the stdout and stderr of `RUN` (a run id, or a name for its latest run)"},
			&cli.StringFlag{Name: "follow", Usage: "follow submitted job `ID` (TARGET/ID) to its recorded run, streaming its log"},
			&cli.StringFlag{Name: "cancel", Usage: "cancel submitted job `ID` (TARGET/ID) and record its run failed"},
			&cli.StringFlag{Name: "env", Usage: "print the environment of `RUN`; with a second run B, what differs from A to B"},
		},
		ArgsUsage: "[--env A [B]]",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 && (cmd.String("env") == "" || cmd.Args().Len() > 1) {
				return usagef("runs takes no arguments (use --name NAME, or --env A B)")
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			rs := localRefs(r)
			if a := cmd.String("env"); a != "" {
				return runsEnv(ctx, e, r, rs, a, cmd.Args().First())
			}
			if id, cancel := cmd.String("follow"), cmd.String("cancel"); id != "" || cancel != "" {
				return runsJob(ctx, e, r, id, cancel)
			}
			jobs := activeJobs(ctx, r)
			if target := cmd.String("log"); target != "" {
				id, err := registry.ResolveID(ctx, r, rs, target)
				if err != nil {
					return err
				}
				logID, err := train.RunLog(ctx, r.Store, id)
				if err != nil {
					return err
				}
				_, err = r.Store.ReadFile(ctx, logID, e.stdout)
				return err
			}
			runs, err := train.ListRuns(ctx, r.Store, rs, cmd.String("name"))
			if err != nil {
				return err
			}
			if e.json {
				if runs == nil {
					runs = []train.RunInfo{}
				}
				return e.printJSON(append(jobInfos(jobs), runs...))
			}
			if len(runs) == 0 && len(jobs) == 0 {
				e.printf("No runs recorded yet (see dv run and dv train).\n")
				return nil
			}
			if e.quiet {
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tID\tSTART\tDURATION\tPARAMS\tMETRICS")
			printJobRows(tw, jobs)
			for _, ri := range runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ri.Name, ri.Status, ri.ID.Short(),
					ri.Start.Local().Format("2006-01-02 15:04:05"), formatDuration(ri.Duration()),
					orDash(train.FormatParams(ri.Params)), orDash(formatMetrics(ri.Metrics)))
			}
			return tw.Flush()
		},
	}
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func formatMetrics(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+formatMetric(m[k]))
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatMetric prints a metric with up to 6 significant digits.
func formatMetric(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func metricOrDash(v *float64) string {
	if v == nil {
		return "-"
	}
	return formatMetric(*v)
}
