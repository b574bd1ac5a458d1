package dvcli

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
)

func cmdDiff(e *env) *cli.Command {
	return &cli.Command{
		Name:  "diff",
		Usage: "list files added, deleted, modified or renamed in tracked data",
		Description: "With no revision: the pointer files against the work tree. With one: that git revision\n" +
			"against the work tree. With two: the first revision against the second.",
		ArgsUsage: "[REV [REV]] [PATH...]",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			var o workspace.DiffOptions
			revs, args := splitDiffArgs(cmd.Args().Slice())
			if o.Paths, err = relPaths(r, args); err != nil {
				return err
			}
			if o.Revs = revs; len(revs) > 0 {
				g, err := openGit(r)
				if err != nil {
					return err
				}
				o.At = g.Pointers
			}
			changes, err := r.DiffRevs(ctx, o)
			if err != nil {
				return err
			}
			return printDiff(e, changes)
		},
	}
}

// splitDiffArgs splits [REV [REV]] [--] [PATH...]: an argument naming an
// existing path (or pointer file) starts the paths.
func splitDiffArgs(args []string) (revs, paths []string) {
	for len(args) > 0 && len(revs) < 2 {
		if args[0] == "--" {
			return revs, args[1:]
		}
		if pathExists(args[0]) {
			break
		}
		revs = append(revs, args[0])
		args = args[1:]
	}
	return revs, args
}

func printDiff(e *env, changes []workspace.Change) error {
	if e.json {
		if changes == nil {
			changes = []workspace.Change{}
		}
		return e.printJSON(changes)
	}
	for _, c := range changes {
		if c.Op == workspace.OpRenamed {
			e.printf("%-9s %s -> %s\n", c.Op+":", c.From, c.Path)
		} else {
			e.printf("%-9s %s\n", c.Op+":", c.Path)
		}
	}
	return nil
}
