package dvcli

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/train/report"
)

func cmdReport(e *env) *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "write one self-contained HTML page about a model: lineage graph, metrics, aliases, drift, production",
		Description: "The page is static (inline CSS and SVG, no script, nothing fetched): open it in any browser,\n" +
			"attach it to a review, or publish it from CI. MODEL defaults to the project's only model; the\n" +
			"lineage drawn is that of the holder of --alias (default: dv.yaml's promotion.alias, else production).",
		ArgsUsage: "[MODEL]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "report.html", Usage: "write the page to `FILE`"},
			&cli.StringFlag{Name: "alias", Usage: "draw the lineage of the holder of `ALIAS`"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 1 {
				return usagef("report takes at most one MODEL")
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			out := cmd.String("out")
			d, err := report.WriteFile(ctx, r, localRefs(r), report.Options{Model: cmd.Args().First(), Alias: cmd.String("alias"), Now: r.Now}, out)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"path": out, "model": d.Model, "alias": d.Alias, "holder": d.Holder,
					"versions": len(d.Versions), "events": len(d.Events), "drift": d.Drift != nil, "production": len(d.Production)})
			}
			holder := "no holder of " + d.Alias + " yet"
			if d.Holder != "" {
				holder = d.Alias + " is " + d.Holder
			}
			e.printf("wrote %s: %s, %d versions, %s\n", out, d.Model, len(d.Versions), holder)
			return nil
		},
	}
}
