package dvcli

import (
	"context"
	"fmt"
	"io"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/compute"
)

// onFlags are dv run/train/retrain's --on flags (bound by onFlagDefs).
type onFlags struct {
	target               string
	dryRun, detach, wait bool
}

// detached: --detach, or --wait=false.
func (on onFlags) detached() bool { return on.detach || !on.wait }

// computeClient opens compute target name of dv.yaml and its remote.
func computeClient(ctx context.Context, e *env, r *workspace.Repo, rc *lineage.Recorder, name string) (*compute.Client, func(), error) {
	cfg, err := workspace.LoadConfig(r.Root)
	if err != nil {
		return nil, nil, err
	}
	cc, err := compute.LoadConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	t, err := cc.Target(name)
	if err != nil {
		return nil, nil, usageError{err}
	}
	s, remoteName, err := syncer(ctx, r, t.Remote, 8, false)
	if err != nil {
		return nil, nil, fmt.Errorf("--on %s: %w", name, err)
	}
	_, rcfg, _ := cfg.Remote(remoteName)
	c := &compute.Client{Repo: r, Rec: rc, Sync: s, RemoteName: remoteName, RemoteURL: rcfg.URL, Target: name, T: t}
	c.Log, _ = runStreams(e)
	c.Notes = c.Log
	return c, func() { s.Remote.Close() }, nil
}

// runOn submits the run to a compute target (dv run/train --on).
func runOn(ctx context.Context, e *env, r *workspace.Repo, rc *lineage.Recorder, o train.RunOptions, on onFlags) error {
	c, done, err := computeClient(ctx, e, r, rc, on.target)
	if err != nil {
		return err
	}
	defer done()
	o.Stdout, o.Stderr = nil, nil
	res, err := c.Run(ctx, o, compute.Options{DryRun: on.dryRun, Detach: on.detached()})
	if err := runJSON(e, res, err); err != nil || e.json {
		return err
	}
	printOn(e.stdout, e, res)
	return nil
}

func printOn(w io.Writer, e *env, res *compute.Result) {
	switch {
	case res.Rendered != "":
		fmt.Fprint(w, res.Rendered)
	case res.Run != nil:
		printRun(w, e, res.Run)
	case res.Job != nil && !e.quiet:
		fmt.Fprintf(w, "follow it with: dv runs --follow %s\n", res.Job.Ref())
	}
}
