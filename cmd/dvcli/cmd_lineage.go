package dvcli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	gitrepo "github.com/dv-ml/dv/refs/git"
	"github.com/dv-ml/dv/train/registry"
)

func cmdLineage(e *env) *cli.Command {
	return &cli.Command{
		Name:  "lineage",
		Usage: "show what a version was made from (--up, the default) or what was made from it (--down)",
		Description: "TARGET is a tracked path (its current version), a ref (models/crop, or crop for\n" +
			"datasets/crop, labels/crop, models/crop, runs/crop) or a record id. Formats: text (a tree),\n" +
			"json (nodes and edges), dot (graphviz: dv lineage --format dot X | dot -Tsvg > x.svg),\n" +
			"mermaid (a flowchart), openlineage (one OpenLineage RunEvent a line per run and import).",
		ArgsUsage: "TARGET",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "up", Usage: "follow what TARGET was made from: runs, inputs, labels, imports (default)"},
			&cli.BoolFlag{Name: "down", Usage: "follow what was made from TARGET"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text",
				Usage: "output `FORMAT`: " + strings.Join(lineage.Formats, ", ")},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usagef("lineage takes one TARGET (a tracked path, a ref or a record id)")
			}
			if cmd.Bool("up") && cmd.Bool("down") {
				return usagef("--up and --down exclude each other")
			}
			format := cmd.String("format")
			if !slices.Contains(lineage.Formats, format) {
				return usagef("--format %q: want one of %s", format, strings.Join(lineage.Formats, ", "))
			}
			if e.json {
				if cmd.IsSet("format") && format != "json" {
					return usagef("--json and --format %s exclude each other", format)
				}
				format = "json"
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			target := cmd.Args().First()
			sg, err := lineageOf(ctx, r, target, cmd.Bool("down"))
			if err != nil {
				return err
			}
			if len(sg.Missing) > 0 {
				e.warnf("%s: %d records of its lineage are not in the local store (dv pull fetches them)", target, len(sg.Missing))
			}
			var opts lineage.FormatOptions
			if format == "openlineage" {
				opts.RepoURL = repoURL(r)
				if !slices.ContainsFunc(sg.Nodes, func(n lineage.Entry) bool {
					return n.Type == lineage.TypeRun || n.Type == lineage.TypeImport
				}) {
					e.warnf("%s: no run or import in this lineage, so no OpenLineage event", target)
				}
			}
			if e.quiet {
				return nil
			}
			bw := bufio.NewWriter(e.stdout)
			return errors.Join(lineage.Write(bw, sg, format, opts), bw.Flush())
		},
	}
}

// lineageOf resolves target and returns its lineage, up or down.
func lineageOf(ctx context.Context, r *workspace.Repo, target string, down bool) (*lineage.Subgraph, error) {
	id, err := registry.ResolveID(ctx, r, localRefs(r), target)
	if err != nil {
		return nil, err
	}
	if l, ok := r.Store.Lookup(id); !ok {
		return nil, fmt.Errorf("%s: record %s is not in the local store (dv pull fetches it)", target, id.Short())
	} else if l.Type != objects.TypeRecord {
		return nil, fmt.Errorf("%s: object %s is a %s, not a record", target, id.Short(), l.Type)
	}
	if !down {
		g, err := lineage.LoadUp(ctx, r.Store, localRefs(r), id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", target, err)
		}
		return g.Up(id)
	}
	g, err := lineage.LoadRefs(ctx, r.Store, localRefs(r), id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return g.Down(id)
}

// repoURL locates the project's code for OpenLineage: the URL of git's
// origin remote without credentials, else the work tree's path.
func repoURL(r *workspace.Repo) string {
	if u := gitrepo.OriginURL(r.Root); u != "" {
		return redactURL(u)
	}
	return r.Root
}
