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
			args := cmd.Args().Slice()
			var revs []string
			for len(args) > 0 && len(revs) < 2 {
				if args[0] == "--" {
					args = args[1:]
					break
				}
				if pathExists(args[0]) {
					break
				}
				revs = append(revs, args[0])
				args = args[1:]
			}
			filter, err := relPaths(r, args)
			if err != nil {
				return err
			}
			var a, b *workspace.Snapshot
			if len(revs) == 0 {
				ptrs, err := r.ReadPointers(ctx, nil)
				if err != nil {
					return err
				}
				a = workspace.PointerSnapshot(ptrs)
			} else {
				g, err := openGit(r)
				if err != nil {
					return err
				}
				ptrs, err := g.Pointers(ctx, revs[0])
				if err != nil {
					return err
				}
				a = workspace.PointerSnapshot(ptrs)
				if len(revs) == 2 {
					ptrs2, err := g.Pointers(ctx, revs[1])
					if err != nil {
						return err
					}
					b = workspace.PointerSnapshot(ptrs2)
				}
			}
			if b == nil {
				paths, err := r.Pointers(ctx)
				if err != nil {
					return err
				}
				for p := range a.Entries {
					paths = append(paths, p)
				}
				if b, _, err = r.WorkSnapshot(ctx, paths); err != nil {
					return err
				}
			}
			limit(a, filter)
			limit(b, filter)
			changes, err := r.Diff(ctx, a, b)
			if err != nil {
				return err
			}
			changes = keepUnder(changes, filter)
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
		},
	}
}

// limit keeps the tracked paths that are, contain, or lie inside a filter.
func limit(s *workspace.Snapshot, filter []string) {
	if len(filter) == 0 {
		return
	}
	for p := range s.Entries {
		keep := false
		for _, f := range filter {
			if workspace.Under(p, f) || workspace.Under(f, p) {
				keep = true
			}
		}
		if !keep {
			delete(s.Entries, p)
		}
	}
}

func keepUnder(cs []workspace.Change, filter []string) []workspace.Change {
	if len(filter) == 0 {
		return cs
	}
	var out []workspace.Change
	for _, c := range cs {
		for _, f := range filter {
			if workspace.Under(c.Path, f) || (c.From != "" && workspace.Under(c.From, f)) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// under reports whether p is dir or below it.
