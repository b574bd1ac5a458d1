package dvcli

import (
	"context"
	"errors"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

func cmdGC(e *env) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "delete stored data that nothing in scope needs",
		Description: "Always kept: the data of the pointer files in the work tree and of dv refs.\n" +
			"--all-commits also keeps what any commit reachable from a branch, tag or HEAD names (the safe choice).\n" +
			"--workspace keeps only the work tree's data.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all-commits", Aliases: []string{"a"}, Usage: "keep data any git commit, branch or tag reaches"},
			&cli.BoolFlag{Name: "workspace", Aliases: []string{"w"}, Usage: "keep only the work tree's data"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "say what would be deleted, delete nothing"},
			&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "collect remote `NAME` instead of the local store"},
			&cli.DurationFlag{Name: "grace", Value: time.Hour, Usage: "remote: keep packs and index files younger than this (pushes in flight)"},
			&cli.BoolFlag{Name: "break-lock", Usage: "remote: delete the remote's push and gc locks (left by a dv killed on another host), and collect nothing"},
			&cli.BoolFlag{Name: "yes", Usage: "confirm --break-lock: no dv is pushing to or collecting the remote"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			a := gcArgs{all: cmd.Bool("all-commits"), dryRun: cmd.Bool("dry-run"),
				remote: cmd.String("remote"), remoteSet: cmd.IsSet("remote"), grace: cmd.Duration("grace")}
			if cmd.Bool("break-lock") {
				return breakLock(ctx, e, a.remote, a.remoteSet, cmd.Bool("yes"))
			}
			if a.all == cmd.Bool("workspace") {
				return usagef("gc needs a scope: --all-commits (keeps all history) or --workspace")
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			if a.remoteSet {
				return gcRemote(ctx, e, r, a)
			}
			unlock, err := r.Store.Lock(ctx, true)
			if err != nil {
				return err
			}
			defer unlock()
			roots, err := gcRoots(ctx, e, r, a.all)
			if err != nil {
				return err
			}
			live, err := r.Store.Reachable(ctx, roots)
			if err != nil {
				return err
			}
			st, err := r.Store.GC(ctx, live, a.dryRun)
			if err != nil {
				return err
			}
			if !a.dryRun {
				// Temporary files of killed dv runs, beside pointers and in .dv.
				n, err := r.CleanTemp(ctx, workspace.TempAge)
				if err != nil {
					return err
				}
				st.TempFiles += n
			}
			if e.json {
				return e.printJSON(map[string]any{"dry_run": a.dryRun, "stats": st})
			}
			verb := "removed"
			if a.dryRun {
				verb = "would remove"
			}
			e.printf("%s %d objects (%s), %d packs deleted, %d rewritten; %d objects kept\n", verb,
				st.Removed, humanBytes(st.RemovedBytes), st.PacksDeleted, st.PacksRewritten, st.Live)
			return nil
		},
	}
}

// gcArgs are dv gc's flags, read once in the Action.
type gcArgs struct {
	all, dryRun bool   // --all-commits (else --workspace), --dry-run
	remote      string // --remote
	remoteSet   bool   // --remote given
	grace       time.Duration
}

// gcRoots is the project's root set (workspace.Repo.Roots) and, with all,
// every pointer in git history.
func gcRoots(ctx context.Context, e *env, r *workspace.Repo, all bool) ([]objects.ID, error) {
	if !all {
		return r.Roots(ctx)
	}
	g, err := openGit(r)
	if errors.Is(err, gitrepo.ErrNoGit) {
		return nil, errors.New("gc --all-commits: the project is not in a git repository; use --workspace")
	}
	if err != nil {
		return nil, err
	}
	hist, err := g.HistoryRoots(ctx, func(err error) {
		if !e.quiet {
			e.warnf("skipping unreadable pointer %v", err)
		}
	})
	if err != nil {
		return nil, err
	}
	return r.Roots(ctx, hist...)
}

func gcRemote(ctx context.Context, e *env, r *workspace.Repo, a gcArgs) error {
	roots, err := gcRoots(ctx, e, r, a.all)
	if err != nil {
		return err
	}
	s, name, err := syncer(ctx, r, a.remote, 8, false)
	if err != nil {
		return err
	}
	defer s.Remote.Close()
	st, err := s.GC(ctx, roots, a.grace, a.dryRun)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]any{"remote": name, "dry_run": a.dryRun, "stats": st})
	}
	verb := "removed"
	if a.dryRun {
		verb = "would remove"
	}
	e.printf("%s: %s %d objects (%s), %d packs deleted, %d rewritten, %d unindexed; %d objects kept, %d young files kept\n",
		name, verb, st.Removed, humanBytes(st.RemovedBytes), st.PacksDeleted, st.PacksRewritten, st.UnindexedPacks, st.Live, st.KeptYoung)
	return nil
}

// breakLock deletes a remote's lock blobs, once confirmed.
func breakLock(ctx context.Context, e *env, name string, isSet, yes bool) error {
	if !isSet {
		return usagef("--break-lock needs the remote: dv gc -r NAME --break-lock --yes")
	}
	if !yes {
		return usagef("--break-lock deletes the locks that keep a push and a gc apart; if a dv is still pushing to or collecting %s, data can be lost: make sure none is, then add --yes", name)
	}
	r, err := openRepo()
	if err != nil {
		return err
	}
	defer r.Close()
	s, name, err := syncer(ctx, r, name, 8, false)
	if err != nil {
		return err
	}
	defer s.Remote.Close()
	locks, err := s.BreakLocks(ctx)
	if err != nil {
		return err
	}
	if e.json {
		return e.printJSON(map[string]any{"remote": name, "locks_removed": locks})
	}
	if len(locks) == 0 {
		e.printf("%s holds no locks\n", name)
	}
	for _, l := range locks {
		e.printf("removed %v from %s\n", l, name)
	}
	return nil
}
