package dvcli

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
)

func cmdCheckout(e *env) *cli.Command {
	return &cli.Command{
		Name:      "checkout",
		Usage:     "make the work tree match the pointer files (after git checkout)",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite or delete data that is not in the store"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "parallel workers (default: CPUs)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, rels, err := openWithPaths(cmd.Args().Slice())
			if err != nil {
				return err
			}
			defer r.Close()
			r.Jobs = cmd.Int("jobs")
			onData, done := e.bar("checkout", 0)
			r.OnData = onData
			res, err := r.Checkout(ctx, rels, workspace.CheckoutOptions{Force: cmd.Bool("force")})
			done()
			if e.json {
				out := map[string]any{"paths": res}
				if err != nil {
					out["error"] = err.Error()
				}
				if jerr := e.printJSON(out); jerr != nil {
					return jerr
				}
			} else {
				for _, c := range res {
					if !c.Unchanged {
						e.printf("%s: %d written, %d removed\n", c.Path, c.Written, c.Removed)
					}
				}
			}
			return err
		},
	}
}
