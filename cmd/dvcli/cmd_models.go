package dvcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/train/registry"
)

func cmdModels(e *env) *cli.Command {
	return &cli.Command{
		Name:      "models",
		Usage:     "list models: numbered versions, metrics, aliases and every decision on them",
		ArgsUsage: "[MODEL]",
		Description: `Lists each model's versions (v1, v2, ...) newest first with their metrics and
the aliases they hold, then each alias's holder and its full history:
who decided what, when, from which version to which, and why.
--alias A --at TIME answers which version held alias A at that moment
(TIME: 2026-01-02T15:04:05Z, or 2026-01-02 15:04:05 in UTC, or a date).
--json gives, per alias, the holder's version, its files' ids and its
lineage root, for deploy scripts. See docs/registry.md.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "alias", Usage: "with --at: the `ALIAS` to ask about"},
			&cli.StringFlag{Name: "at", Usage: "with --alias: the moment (`TIME`) to ask about"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 1 {
				return usagef("models takes at most one MODEL")
			}
			model := cmd.Args().First()
			if cmd.IsSet("at") != cmd.IsSet("alias") || (cmd.IsSet("at") && model == "") {
				return usagef("--alias and --at go together, with a MODEL")
			}
			var at time.Time
			if cmd.IsSet("at") {
				var err error
				if at, err = parseTime(cmd.String("at")); err != nil {
					return usageError{err}
				}
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			if cmd.IsSet("at") {
				h, err := registry.HolderAt(ctx, r.Store, localRefs(r), model, cmd.String("alias"), at)
				if err != nil {
					return err
				}
				if e.json {
					return e.printJSON(h)
				}
				if h.Version.IsZero() {
					e.printf("%s@%s at %s: no holder\n", model, h.Alias, lineage.TimeString(at))
					return nil
				}
				e.printf("%s@%s at %s: v%d (%s)\n", model, h.Alias, lineage.TimeString(at), h.Number, h.Version.Short())
				return nil
			}
			ms, err := registry.Models(ctx, r.Store, localRefs(r), model)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(ms)
			}
			if len(ms) == 0 {
				e.printf("No models yet (dv train -n NAME, or dv add --kind model).\n")
				return nil
			}
			return printModels(e, ms)
		},
	}
}

// parseTime reads --at: RFC 3339, or a UTC date and time, or a date.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q: want a time such as 2026-01-02T15:04:05Z", s)
}

func printModels(e *env, ms []registry.ModelInfo) error {
	bw := bufio.NewWriter(e.stdout)
	for i, m := range ms {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintf(bw, "%s: %d versions\n", m.Name, len(m.Versions))
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  VERSION\tID\tTIME\tWHO\tALIASES\tMETRICS")
		for _, v := range m.Versions {
			fmt.Fprintf(tw, "  v%d\t%s\t%s\t%s\t%s\t%s\n", v.Number, v.ID.Short(), lineage.TimeString(v.Time),
				tabless(orDash(v.Who)), orDash(strings.Join(v.Aliases, ",")), tabless(metricsText(v.Metrics)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, a := range m.Aliases {
			holder := "no holder"
			if !a.Version.IsZero() {
				holder = fmt.Sprintf("v%d (%s)", a.Number, a.Version.Short())
			}
			lag := ""
			if a.Lagging {
				lag = " (alias ref behind its chain: the next decision moves it)"
			}
			fmt.Fprintf(bw, "alias %s: %s%s\n", a.Alias, holder, lag)
			tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  #\tTIME\tWHO\tDECISION\tFROM\tTO\tREASON")
			for _, ev := range a.History {
				fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, lineage.TimeString(ev.Time), tabless(orDash(ev.Who)),
					ev.Decision, vnum(ev.FromNumber, ev.From.IsZero()), vnum(ev.ToNumber, ev.To.IsZero()), tabless(orDash(ev.Reason)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return errors.Join(bw.Flush())
}

func vnum(n int, none bool) string {
	if none {
		return "-"
	}
	return fmt.Sprintf("v%d", n)
}

// metricsText is "k=v k=v" of the top-level metrics (slices are left out:
// dv metrics show lists them).
func metricsText(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if strings.HasPrefix(k, registry.SlicesKey+".") {
			continue
		}
		parts = append(parts, k+"="+formatMetric(m[k]))
	}
	return strings.Join(parts, " ")
}
