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

// runsJob follows (--follow) or cancels (--cancel) a submitted job.
func runsJob(ctx context.Context, e *env, r *workspace.Repo, follow, cancel string) error {
	if follow != "" && cancel != "" {
		return usagef("give --follow or --cancel, not both")
	}
	name := follow + cancel
	j, err := compute.FindJob(r.Dir, name)
	if err != nil {
		return usageError{err}
	}
	rc, err := newRecorder(ctx, r)
	if err != nil {
		return err
	}
	c, done, err := computeClient(ctx, e, r, rc, j.Target)
	if err != nil {
		return err
	}
	defer done()
	var res *train.RunResult
	switch {
	case cancel != "":
		res, err = c.Cancel(ctx, j)
	case j.Done():
		return fmt.Errorf("job %s already ended: run %s %s (dv runs --log %s)", j.Ref(), j.Run.Short(), j.Status, j.Run.Short())
	default:
		res, err = c.Follow(ctx, j)
	}
	if err := runJSON(e, res, err); err != nil || e.json {
		return err
	}
	printRun(e.stdout, e, res)
	return nil
}

// activeJobs are the submitted jobs whose runs are not recorded yet, with
// their state refreshed from the engine where it answers.
func activeJobs(ctx context.Context, r *workspace.Repo) []*compute.Job {
	all, err := compute.ListJobs(r.Dir)
	if err != nil {
		return nil
	}
	var out []*compute.Job
	for _, j := range all {
		if !j.Done() {
			compute.Refresh(ctx, j)
			out = append(out, j)
		}
	}
	return out
}

func jobStatus(j *compute.Job) string {
	if j.State == compute.StatePending {
		return "submitted"
	}
	return j.State
}

func jobInfos(jobs []*compute.Job) []train.RunInfo {
	out := []train.RunInfo{}
	for _, j := range jobs {
		out = append(out, train.RunInfo{Name: j.Name, Status: jobStatus(j), Start: j.Submitted, Command: j.Spec.Command,
			Params: j.Spec.Params, Job: &lineage.Job{Engine: j.Engine, Target: j.Target, ID: j.ID, Node: j.Node}})
	}
	return out
}

func printJobRows(w io.Writer, jobs []*compute.Job) {
	for _, j := range jobs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, jobStatus(j), j.Ref(),
			j.Submitted.Local().Format("2006-01-02 15:04:05"), "-", orDash(train.FormatParams(j.Spec.Params)), "-")
	}
}
