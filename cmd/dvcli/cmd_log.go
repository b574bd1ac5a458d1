package dvcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/registry"
)

// logTypes are what --type accepts: record types and data kinds.
var logTypes = []string{lineage.TypeDataset, lineage.TypeLabels, lineage.TypeImport, lineage.TypeRun,
	lineage.TypeModel, lineage.TypeMetrics, lineage.TypePromotion, lineage.TypeDrift, "other"}

func cmdLog(e *env) *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "show the audit trail, newest first: data versions, imports, runs, models, metrics",
		Description: "TARGET narrows the log: a tracked path or directory (its versions and the runs that read or\n" +
			"wrote it), a ref or record id (that record and everything it came from, earlier versions\n" +
			"included), or a name.",
		ArgsUsage: "[TARGET]",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "type", Aliases: []string{"t"},
				Usage: "only records of type or kind `T`: " + strings.Join(logTypes, ", ") + " (repeatable, or comma-separated)"},
			&cli.IntFlag{Name: "limit", Aliases: []string{"n"}, Usage: "show at most `N` records"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 1 {
				return usagef("log takes at most one TARGET")
			}
			f := lineage.Filter{Limit: cmd.Int("limit")}
			if f.Limit < 0 {
				return usagef("--limit %d: want a positive number", f.Limit)
			}
			for _, t := range cmd.StringSlice("type") {
				for _, t := range strings.Split(t, ",") {
					if !slices.Contains(logTypes, t) {
						return usagef("--type %q: want one of %s", t, strings.Join(logTypes, ", "))
					}
					f.Types = append(f.Types, t)
				}
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			entries, missing, err := logEntries(ctx, r, cmd.Args().First(), f)
			if err != nil {
				return err
			}
			if missing > 0 {
				e.warnf("%d records named by others are not in the local store (dv pull fetches them)", missing)
			}
			if e.json {
				return e.printJSON(entries)
			}
			if e.quiet {
				return nil
			}
			if len(entries) == 0 {
				e.printf("No records yet (dv add, dv import, dv run and dv train write them).\n")
				return nil
			}
			return printLog(e, entries)
		},
	}
}

// logEntries loads the graph from the refs and returns the entries that
// match f and target, and how many records the graph lacks.
func logEntries(ctx context.Context, r *workspace.Repo, target string, f lineage.Filter) ([]lineage.Entry, int, error) {
	var extra []objects.ID
	if target != "" {
		rel, err := r.Rel(target)
		if abs, _ := filepath.Abs(target); abs == r.Root {
			target = "" // the whole project
		} else if err == nil && isTracked(ctx, r, rel) {
			f.Path = rel
		} else if id, err := registry.ResolveID(ctx, r, localRefs(r), target); err == nil {
			f.Of, extra = id, []objects.ID{id}
		}
	}
	g, err := lineage.LoadRefs(ctx, r.Store, localRefs(r), extra...)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case target == "" || f.Path != "":
	case !f.Of.IsZero():
		if _, ok := g.Entry(f.Of); !ok {
			return nil, 0, fmt.Errorf("%s: object %s is not a record", target, f.Of.Short())
		}
	case len(g.Log(lineage.Filter{Name: target, Limit: 1})) > 0:
		f.Name = target
	default:
		rel, err := r.Rel(target)
		if err != nil || len(g.Log(lineage.Filter{Path: rel, Limit: 1})) == 0 {
			return nil, 0, fmt.Errorf("%s: not a tracked path, a ref, a record id or a name in the log", target)
		}
		f.Path = rel
	}
	return g.Log(f), len(g.Missing()), nil
}

// isTracked reports whether rel has a pointer file, or is a directory
// with tracked paths below it.
func isTracked(ctx context.Context, r *workspace.Repo, rel string) bool {
	if _, err := os.Stat(r.Abs(rel) + pointer.Ext); err == nil {
		return true
	}
	_, contains, err := r.Nesting(ctx, rel)
	return err == nil && contains != ""
}

// printLog writes one line a record: time, type, name or path, short id,
// who, commit (with -dirty) and a summary.
func printLog(e *env, entries []lineage.Entry) error {
	bw := bufio.NewWriter(e.stdout)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tNAME\tID\tWHO\tCOMMIT\tSUMMARY")
	for _, x := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", lineage.TimeString(x.Time), x.Type,
			tabless(lineage.Title(x.Record)), x.ID.Short(), tabless(lineage.Who(x.Record)),
			lineage.ShortCommit(x.Record), tabless(summaryOrDash(x.Record)))
	}
	return errors.Join(tw.Flush(), bw.Flush())
}

func summaryOrDash(r *lineage.Record) string {
	if s := lineage.Summary(r); s != "" {
		return s
	}
	return "-"
}

// tabless keeps a field in its column: tabs and other control characters
// become spaces.
func tabless(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
