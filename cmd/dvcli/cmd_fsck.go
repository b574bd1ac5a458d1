package dvcli

import (
	"context"
	"fmt"
	"sort"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
)

func sortStrings(s []string) { sort.Strings(s) }

type fsckProblem struct {
	What   string `json:"what"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func cmdFsck(e *env) *cli.Command {
	return &cli.Command{
		Name:  "fsck",
		Usage: "verify every object, pack, index and pointer; exit 3 on corruption",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			var problems []fsckProblem
			bad := func(ce *objects.CorruptError) {
				problems = append(problems, fsckProblem{ce.What, ce.Name, ce.Reason})
			}
			st, err := r.Store.Check(ctx, bad)
			if err != nil {
				return err
			}
			// Every tracked path whose data is here must be complete.
			ptrs, err := r.ReadPointers(nil)
			if err != nil {
				return err
			}
			for _, p := range sortedPaths(ptrs) {
				if err := r.Store.Complete(ctx, ptrs[p].OID); err != nil {
					problems = append(problems, fsckProblem{"path", p, err.Error()})
				}
			}
			if e.json {
				if problems == nil {
					problems = []fsckProblem{}
				}
				if err := e.printJSON(map[string]any{"stats": st, "problems": problems, "ok": len(problems) == 0}); err != nil {
					return err
				}
			} else {
				for _, p := range problems {
					fmt.Fprintf(e.stderr, "dv: %s %s: %s\n", p.What, p.Name, p.Reason)
				}
				e.printf("checked %d packs, %d objects, %s\n", st.Packs, st.Objects, humanBytes(st.Bytes))
			}
			if len(problems) > 0 {
				return &objects.CorruptError{What: problems[0].What, Name: problems[0].Name,
					Reason: fmt.Sprintf("%s (%d problems in all)", problems[0].Reason, len(problems))}
			}
			return nil
		},
	}
}
