package dvcli

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/registry"
)

type fsckProblem struct {
	What   string `json:"what"`
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

func cmdFsck(e *env) *cli.Command {
	return &cli.Command{
		Name:  "fsck",
		Usage: "verify every object, pack, index, pointer and event chain; exit 3 on corruption",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "verify remote `NAME` instead (downloads every pack)"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 4, Usage: "parallel downloads"},
			&cli.BoolFlag{Name: "repair", Usage: "index sound packs no index names, and drop damaged objects from the index so that add or pull can store them again"},
		},
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
			if cmd.IsSet("remote") {
				return fsckRemote(ctx, e, r, cmd.String("remote"), cmd.Int("jobs"))
			}
			// ioErr: files that could not be read (not damage); the
			// problems found meanwhile are still reported.
			st, ioErr := r.Store.Check(ctx, bad)
			if ctx.Err() != nil {
				return ioErr
			}
			if cmd.Bool("repair") {
				rs, err := repair(ctx, r, problems)
				if err != nil {
					return err
				}
				e.printf("repair: %d packs indexed again, %d damaged objects dropped from the index\n", rs.Reindexed, rs.Dropped)
				problems = nil
				if st, ioErr = r.Store.Check(ctx, bad); ctx.Err() != nil {
					return ioErr
				}
			}
			rootProblems, notHere, err := r.CheckRoots(ctx)
			if err != nil {
				return err
			}
			for _, p := range rootProblems {
				problems = append(problems, fsckProblem{p.Kind, p.Name, p.Reason})
			}
			chains, err := registry.CheckChains(ctx, r.Store, localRefs(r))
			if err != nil {
				return err
			}
			for _, p := range chains {
				if p.Integrity() {
					problems = append(problems, fsckProblem{"event", p.Name, p.Msg})
				} else {
					e.warnf("%s", p)
				}
			}
			if e.json {
				if problems == nil {
					problems = []fsckProblem{}
				}
				if err := e.printJSON(map[string]any{"stats": st, "problems": problems, "ok": len(problems) == 0, "not_here": notHere}); err != nil {
					return err
				}
			} else {
				for _, p := range problems {
					fmt.Fprintf(e.stderr, "dv: %s %s: %s\n", p.What, p.Name, p.Reason)
				}
				e.printf("checked %d packs, %d objects, %s\n", st.Packs, st.Objects, humanBytes(st.Bytes))
				for _, m := range notHere {
					e.printf("%s: %d objects are not in the local store (dv pull %s fetches them)\n", m.Path, m.Objects, m.Path)
				}
				if st.Unindexed > 0 {
					e.printf("%d sound packs are not indexed (an interrupted add, or a damaged index): dv fsck --repair indexes them, dv gc removes them\n", st.Unindexed)
				}
			}
			return errors.Join(problemsError(problems), ioErr)
		},
	}
}

// problemsError is the integrity error for a non-empty problem list.
func problemsError(problems []fsckProblem) error {
	if len(problems) == 0 {
		return nil
	}
	reason := problems[0].Reason
	if len(problems) > 1 {
		reason = fmt.Sprintf("%s (%d problems in all)", reason, len(problems))
	}
	return &objects.CorruptError{What: problems[0].What, Name: problems[0].Name, Reason: reason}
}

func fsckRemote(ctx context.Context, e *env, r *workspace.Repo, name string, jobs int) error {
	s, name, err := syncer(ctx, r, name, jobs, false)
	if err != nil {
		return err
	}
	defer s.Remote.Close()
	onData, done := e.bar("fsck "+name, 0)
	s.OnBytes = onData
	var problems []fsckProblem
	st, err := s.Check(ctx, func(ce *objects.CorruptError) {
		problems = append(problems, fsckProblem{ce.What, ce.Name, ce.Reason})
	})
	done()
	if err != nil {
		return err
	}
	if e.json {
		if problems == nil {
			problems = []fsckProblem{}
		}
		if err := e.printJSON(map[string]any{"remote": name, "stats": st, "problems": problems, "ok": len(problems) == 0}); err != nil {
			return err
		}
	} else {
		for _, p := range problems {
			fmt.Fprintf(e.stderr, "dv: %s %s: %s\n", p.What, p.Name, p.Reason)
		}
		e.printf("checked %s: %d index files, %d packs, %d objects, %s\n", name, st.IndexFiles, st.Packs, st.Objects, humanBytes(st.Bytes))
		if st.Unindexed > 0 {
			e.printf("%d unindexed packs (left by interrupted pushes; dv gc -r removes them)\n", st.Unindexed)
		}
	}
	return problemsError(problems)
}

// repair drops the damaged objects among problems from the index and
// indexes orphaned packs.
func repair(ctx context.Context, r *workspace.Repo, problems []fsckProblem) (objects.RepairStats, error) {
	unlock, err := r.Store.Lock(ctx, true)
	if err != nil {
		return objects.RepairStats{}, err
	}
	defer unlock()
	var damaged []objects.ID
	for _, p := range problems {
		if id, err := objects.ParseID(p.Name); err == nil && p.What == "object" {
			damaged = append(damaged, id)
		}
	}
	return r.Store.Repair(ctx, damaged)
}
