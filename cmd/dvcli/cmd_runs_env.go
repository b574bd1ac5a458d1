package dvcli

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/registry"
)

// runsEnv prints the environment of run a, or with b what differs
// between the environments of a and b.
func runsEnv(ctx context.Context, e *env, r *workspace.Repo, rs *refs.Store, a, b string) error {
	ida, err := resolveRun(ctx, r, rs, a)
	if err != nil {
		return err
	}
	if b == "" {
		flat, err := train.FlatEnv(ctx, r.Store, ida)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(flat)
		}
		keys := make([]string, 0, len(flat))
		for k := range flat {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e.printf("%s: %s\n", k, flat[k])
		}
		return nil
	}
	idb, err := resolveRun(ctx, r, rs, b)
	if err != nil {
		return err
	}
	changes, err := train.EnvDiff(ctx, r.Store, ida, idb)
	if err != nil {
		return err
	}
	if e.json {
		if changes == nil {
			changes = []train.EnvChange{}
		}
		return e.printJSON(changes)
	}
	if len(changes) == 0 {
		e.printf("the environments of %s and %s are the same\n", ida.Short(), idb.Short())
		return nil
	}
	if e.quiet {
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "KEY\t%s\t%s\n", ida.Short(), idb.Short())
	for _, c := range changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Key, orDash(c.A), orDash(c.B))
	}
	return tw.Flush()
}

// resolveRun resolves a run: NAME is runs/NAME first (a model of the same
// name has runs/NAME too), then any name of dv's grammar.
func resolveRun(ctx context.Context, r *workspace.Repo, rs *refs.Store, name string) (objects.ID, error) {
	if refs.ValidName("runs/"+name) == nil {
		if id, err := rs.Get("runs/" + name); err == nil {
			return id, nil
		}
	}
	return registry.ResolveID(ctx, r, rs, name)
}
