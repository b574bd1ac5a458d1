package train

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dv-ml/dv/lineage"
)

// RecordJobFailure records a failed run for a job that ended without
// recording its run (cancelled, timed out, lost with its node or pod, or
// refused by the engine): with the job, the log the engine kept, the exit
// code the engine reported and the reason. It returns the *FailedError
// that reports it, with res filled in.
func (rn *Runner) RecordJobFailure(ctx context.Context, o RunOptions, p *Plan, job *lineage.Job, start, end time.Time, exitCode int, reason string, log io.Reader) (*RunResult, error) {
	tmp, err := os.CreateTemp(rn.Repo.Dir, "joblog-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if log != nil {
		if _, err := io.Copy(tmp, log); err != nil {
			return nil, fmt.Errorf("run %s: job log: %w", o.Name, err)
		}
	}
	if start.IsZero() {
		start = end
	}
	res := &RunResult{Name: o.Name, CacheKey: p.CacheKey, ExitCode: exitCode, Start: start.UTC(), End: end.UTC()}
	run := &lineage.Record{Type: lineage.TypeRun, Name: o.Name, Command: o.Command, Params: o.Params,
		Inputs: p.Inputs, ExitCode: exitCode, Start: res.Start, End: res.End,
		CodeTree: rn.Rec.Code.Tree, CacheKey: p.CacheKey, Meta: o.Meta, Job: job}
	return res, rn.recordFailed(ctx, o, run, res, tmp, reason)
}
