package dvcli

import (
	"context"
	"errors"
	"io"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train"
)

// openWithConfig opens the project and loads its dv.yaml; the caller
// closes the repo.
func openWithConfig() (*workspace.Repo, *workspace.Config, error) {
	r, err := openRepo()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := workspace.LoadConfig(r.Root)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, cfg, nil
}

// openWithRecorder opens the project and makes a recorder stamped with its
// git context; the caller closes the repo.
func openWithRecorder(ctx context.Context) (*workspace.Repo, *lineage.Recorder, error) {
	r, err := openRepo()
	if err != nil {
		return nil, nil, err
	}
	rc, err := newRecorder(ctx, r)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, rc, nil
}

// runStreams are where a run's command output and progress go: the
// terminal; stderr under --json (stdout carries only the JSON result);
// nowhere under --quiet.
func runStreams(e *env) (stdout, stderr io.Writer) {
	switch {
	case e.quiet:
		return nil, nil
	case e.json:
		return e.stderr, e.stderr
	}
	return e.stdout, e.stderr
}

// runJSON prints a run's result under --json when the run succeeded or
// failed as a run (a failed run is recorded: its result is still the
// output), and returns the error the command ends with: err, else the
// printing's. Callers print text when it returns nil without --json.
func runJSON[T any](e *env, res *T, err error) error {
	var fe *train.FailedError
	if e.json && res != nil && (err == nil || errors.As(err, &fe)) {
		if perr := e.printJSON(res); perr != nil && err == nil {
			return perr
		}
	}
	return err
}
