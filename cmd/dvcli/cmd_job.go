package dvcli

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/compute"
)

// cmdJob is what a job submitted by dv run --on runs on the cluster, in a
// fresh clone at the run's commit. It is not for people.
func cmdJob(e *env) *cli.Command {
	return &cli.Command{
		Name:   "job",
		Usage:  "run a submitted job's run inside the job (started by dv run --on)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Usage: "the job `SPEC` dv run --on wrote"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			spec, err := compute.DecodeSpec(cmd.String("spec"))
			if err != nil {
				return usageError{err}
			}
			r, rc, err := openWithRecorder(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			s, err := jobSyncer(ctx, r, spec)
			if err != nil {
				return err
			}
			defer s.Remote.Close()
			w := &compute.Worker{Repo: r, Rec: rc, Sync: s, Stdout: e.stdout, Stderr: e.stderr,
				Versions: map[string]string{"dv": Version}}
			res, err := w.Run(ctx, spec)
			var fe *train.FailedError
			if res != nil && (err == nil || errors.As(err, &fe)) {
				e.printf("dv job: run %s %s (%s), pushed\n", res.Run.Short(), res.Status, res.End.Sub(res.Start).Round(time.Millisecond))
			}
			return err
		},
	}
}

// jobSyncer opens the remote a job pulls from and pushes to: the folder
// the submitter named by its absolute path, or the remote of dv.yaml.
func jobSyncer(ctx context.Context, r *workspace.Repo, spec *compute.Spec) (*remote.Syncer, error) {
	if spec.RemoteURL == "" {
		s, _, err := syncer(ctx, r, spec.Remote, 8, false)
		return s, err
	}
	st, err := openRemote(ctx, r.Root, workspace.RemoteConfig{URL: spec.RemoteURL}, false)
	if err != nil {
		return nil, err
	}
	return &remote.Syncer{Local: r.Store, Remote: st, Jobs: 8, CacheDir: filepath.Join(r.Dir, "remotes", spec.Remote)}, nil
}
