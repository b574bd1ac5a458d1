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

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/monitor"
)

func cmdMetricsLog(e *env) *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "record metrics observed in production on a model version",
		Description: "MODEL is the model's latest version, MODEL@ALIAS the version holding ALIAS. Each k=v is a\n" +
			"metric; --file F reads more from a JSON, YAML or CSV metrics file. The record is time-stamped\n" +
			"with --time (default now). A value that breaks a promotion threshold in dv.yaml marks the\n" +
			"version stale (dv status --stale) and sends a metrics alert to the alerts: webhooks.",
		ArgsUsage: "MODEL[@ALIAS] k=v...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "time", Usage: "when the metrics were observed: `T` in RFC 3339 or a date"},
			&cli.StringFlag{Name: "file", Usage: "read metrics from the file `F` (JSON, YAML or CSV)"},
			notifyFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			args := cmd.Args().Slice()
			if len(args) == 0 {
				return usagef("metrics log needs MODEL[@ALIAS] and k=v metrics (or --file F)")
			}
			o := monitor.LogOptions{Model: args[0], Metrics: map[string]float64{}}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				f, err := strconv.ParseFloat(v, 64)
				if !ok || k == "" || err != nil {
					return usagef("metric %q: want name=number", kv)
				}
				o.Metrics[k] = f
			}
			if t := cmd.String("time"); t != "" {
				var err error
				if o.Observed, err = monitor.ParseTime(t); err != nil {
					return usagef("--time: %v", err)
				}
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			if f := cmd.String("file"); f != "" {
				if o.File, err = r.Rel(f); err != nil {
					return err
				}
			}
			cfg, err := workspace.LoadConfig(r.Root)
			if err != nil {
				return err
			}
			targets, err := alertTargets(cfg, cmd.StringSlice("notify"))
			if err != nil {
				return err
			}
			rc, err := newRecorder(ctx, r)
			if err != nil {
				return err
			}
			ob, err := monitor.Log(ctx, r, rc, cfg, o)
			if err != nil {
				return err
			}
			if e.json {
				err = e.printJSON(ob)
			} else if !e.quiet {
				printObservation(e, ob)
			}
			notify(ctx, e, targets, ob.Alerts()...)
			return err
		},
	}
}

func printObservation(e *env, ob *monitor.Observation) {
	label := ob.Model
	if ob.Alias != "" {
		label += "@" + ob.Alias
	}
	e.printf("%s: production metrics recorded on version %s (record %s, observed %s)\n",
		label, ob.VersionLabel(), ob.ID.Short(), ob.Observed.Format(time.RFC3339))
	for _, k := range slices.Sorted(maps.Keys(ob.Metrics)) {
		e.printf("  %s = %s\n", k, formatMetric(ob.Metrics[k]))
	}
	for _, b := range ob.Breaches {
		e.printf("  %s = %s breaks the promotion threshold %s: version %s is stale\n",
			b.Metric, formatMetric(b.Value), b.Threshold, ob.VersionLabel())
	}
}

// metricsHistory lists the production metrics of a model.
func metricsHistory(ctx context.Context, e *env, model string) error {
	r, cfg, err := openWithConfig()
	if err != nil {
		return err
	}
	defer r.Close()
	obs, err := monitor.History(ctx, r, localRefs(r), cfg, model)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(obs)
	}
	if len(obs) == 0 {
		e.printf("No production metrics recorded for %s (see dv metrics log).\n", model)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "OBSERVED\tVERSION\tALIAS\tMETRICS\tRECORD\n")
	for _, ob := range obs {
		var ms []string
		for _, k := range slices.Sorted(maps.Keys(ob.Metrics)) {
			m := k + "=" + formatMetric(ob.Metrics[k])
			for _, b := range ob.Breaches {
				if b.Metric == k {
					m += " (breaks " + b.Threshold.String() + ")"
				}
			}
			ms = append(ms, m)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ob.Observed.Format(time.RFC3339), ob.VersionLabel(), orDash(ob.Alias),
			strings.Join(ms, " "), ob.ID.Short())
	}
	return tw.Flush()
}
