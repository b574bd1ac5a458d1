package dvcli

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
)

func cmdStatus(e *env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show tracked paths that differ from their pointer files",
		ArgsUsage: "[PATH...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "exit-code", Usage: "exit 1 when anything differs"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			rels, err := relPaths(r, cmd.Args().Slice())
			if err != nil {
				return err
			}
			sts, read, err := r.Status(ctx, rels)
			if err != nil {
				return err
			}
			differs := false
			for _, s := range sts {
				if s.State != workspace.StateClean || !s.InCache {
					differs = true
				}
			}
			if e.json {
				if err := e.printJSON(map[string]any{"paths": sts, "bytes_read": read, "clean": !differs}); err != nil {
					return err
				}
			} else {
				for _, s := range sts {
					if s.State != workspace.StateClean {
						e.printf("%-10s %s\n", s.State+":", s.Path)
					}
					if !s.InCache {
						e.printf("%-10s %s\n", "not in cache:", s.Path)
					}
				}
				if !differs {
					e.printf("Data and pointer files are up to date.\n")
				}
			}
			if differs && cmd.Bool("exit-code") {
				return errSilent
			}
			return nil
		},
	}
}
