package dvcli

import (
	"context"
	"maps"
	"slices"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/train/registry"
)

// syncFlags are the flags dv push, fetch and pull share, bound to a.
func syncFlags(a *syncArgs) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Usage: "remote `NAME` (default: dv.yaml's default)", Destination: &a.remote},
		&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Value: 8, Usage: "parallel transfers", Destination: &a.jobs},
		&cli.BoolFlag{Name: "all-commits", Aliases: []string{"a"}, Usage: "every version any git commit, branch or tag names, not just the work tree's", Destination: &a.all},
	}
}

// syncArgs are the flags of dv push, fetch and pull (bound by syncFlags).
type syncArgs struct {
	remote string // --remote
	jobs   int    // --jobs
	all    bool   // --all-commits
}

// scopeRoots returns the objects a push or fetch covers: the data of the
// given tracked paths (all when none), the local refs, and with
// --all-commits every pointer in git history.
func scopeRoots(ctx context.Context, e *env, r *workspace.Repo, paths []string, all bool) ([]objects.ID, error) {
	var roots []objects.ID
	if len(paths) > 0 {
		targets, err := r.Targets(ctx, paths)
		if err != nil {
			return nil, err
		}
		for _, t := range targets {
			roots = append(roots, t.ID)
		}
		return roots, nil
	}
	return gcRoots(ctx, e, r, all)
}

func cmdPush(e *env) *cli.Command {
	var a syncArgs
	return &cli.Command{
		Name:      "push",
		Usage:     "upload what the remote lacks: packs, then the index, then refs",
		ArgsUsage: "[PATH...]",
		Flags:     syncFlags(&a),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, paths, err := openWithPaths(cmd.Args().Slice())
			if err != nil {
				return err
			}
			defer r.Close()
			roots, err := scopeRoots(ctx, e, r, paths, a.all)
			if err != nil {
				return err
			}
			s, name, err := syncer(ctx, r, a.remote, a.jobs, true)
			if err != nil {
				return err
			}
			defer s.Remote.Close()
			onData, done := e.bar("push "+name, 0)
			s.OnBytes = onData
			st, err := s.Push(ctx, roots)
			done()
			if err != nil {
				return err
			}
			updated, refErr := s.PushRefs(ctx, localRefs(r))
			if e.json {
				out := map[string]any{"remote": name, "stats": st, "refs_updated": nonNil(updated)}
				if refErr != nil {
					out["error"] = refErr.Error()
				}
				if err := e.printJSON(out); err != nil {
					return err
				}
			} else {
				switch {
				case st.Objects == 0 && len(updated) == 0:
					e.printf("%s is up to date\n", name)
				case st.Objects > 0:
					e.printf("pushed %d objects in %d packs (%s) to %s\n", st.Objects, st.Packs, humanBytes(st.Bytes), name)
				}
				for _, u := range updated {
					e.printf("ref %s updated\n", u)
				}
				if st.MissingLocal > 0 {
					e.warnf("%d tracked versions are not in the local store and were not pushed (dv fetch them first)", st.MissingLocal)
				}
			}
			return refErr
		},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fetch downloads the scope's data and, for a whole pull, the remote's
// refs and their data, then moves local refs (remote.Syncer.Pull).
// fetch downloads what paths (all when empty) need; with into, the blobs
// go to its sink as they arrive (a pull writing the work tree).
func fetch(ctx context.Context, e *env, a syncArgs, r *workspace.Repo, paths []string, into func(context.Context, remote.Fetched) remote.BlobSink) (remote.FetchStats, string, error) {
	s, name, err := syncer(ctx, r, a.remote, a.jobs, false)
	if err != nil {
		return remote.FetchStats{}, "", err
	}
	defer s.Remote.Close()
	onData, done := e.bar("fetch "+name, 0)
	defer done()
	s.OnBytes = onData
	s.Greedy = len(paths) == 0
	o := remote.PullOptions{Roots: func(ctx context.Context) ([]objects.ID, error) {
		return scopeRoots(ctx, e, r, paths, a.all)
	}, Into: into}
	if len(paths) == 0 {
		o.Refs = localRefs(r)
	}
	res, err := s.Pull(ctx, o)
	for _, n := range slices.Sorted(maps.Keys(res.Unheld)) {
		e.warnf("ref %s on %s names %s, which neither side holds; left as it is", n, name, res.Unheld[n].Short())
	}
	if err == nil && o.Refs != nil {
		// Registry refs (events, aliases) that diverged are settled by
		// their chains: the remote's decisions win over unpushed ones.
		var notes []string
		res.Diverged, notes, err = registry.Reconcile(ctx, r.Store, o.Refs, res.Remote, res.Diverged)
		for _, n := range notes {
			e.warnf("%s", n)
		}
	}
	for _, d := range res.Diverged {
		e.warnf("ref %s differs from %s's; kept yours (push to replace theirs)", d, name)
	}
	return res.Stats, name, err
}

func cmdFetch(e *env) *cli.Command {
	var a syncArgs
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download what the local store lacks (does not touch the work tree)",
		ArgsUsage: "[PATH...]",
		Flags:     syncFlags(&a),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, paths, err := openWithPaths(cmd.Args().Slice())
			if err != nil {
				return err
			}
			defer r.Close()
			st, name, err := fetch(ctx, e, a, r, paths, nil)
			if err != nil {
				return err
			}
			return reportFetch(e, name, st, nil)
		},
	}
}

func reportFetch(e *env, name string, st remote.FetchStats, co []workspace.CheckoutResult) error {
	if e.json {
		out := map[string]any{"remote": name, "stats": st}
		if co != nil {
			out["checkout"] = co
		}
		return e.printJSON(out)
	}
	if st.Objects == 0 {
		e.printf("nothing to fetch from %s\n", name)
	} else {
		e.printf("fetched %d objects (%s) from %s in %d requests\n", st.Objects, humanBytes(st.Bytes), name, st.Requests)
	}
	if st.Missing > 0 {
		e.warnf("%d objects are on neither side (push them from the machine that has them)", st.Missing)
	}
	for _, c := range co {
		if !c.Unchanged {
			e.printf("%s: %d written, %d removed\n", c.Path, c.Written, c.Removed)
		}
	}
	return nil
}

func cmdPull(e *env) *cli.Command {
	var a syncArgs
	var force bool
	flags := append(syncFlags(&a), &cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite data that is not in the store", Destination: &force})
	return &cli.Command{
		Name:      "pull",
		Usage:     "fetch, then check out the work tree",
		ArgsUsage: "[PATH...]",
		Flags:     flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, paths, err := openWithPaths(cmd.Args().Slice())
			if err != nil {
				return err
			}
			defer r.Close()
			// The files are written while their chunks arrive, then
			// renamed into place by the checkout.
			var pre *workspace.Prefill
			defer func() { pre.Close() }()
			into := func(ctx context.Context, fetched remote.Fetched) remote.BlobSink {
				pre = r.NewPrefill(ctx, paths, fetched)
				return pre
			}
			st, name, err := fetch(ctx, e, a, r, paths, into)
			if err != nil {
				return err
			}
			co, cerr := r.Checkout(ctx, paths, workspace.CheckoutOptions{Force: force, Prefill: pre})
			if err := reportFetch(e, name, st, co); err != nil {
				return err
			}
			return cerr
		},
	}
}
