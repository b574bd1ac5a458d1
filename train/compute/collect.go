package compute

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/train"
)

// collect brings an ended job's run into the project. When the job
// recorded its run (the remote's jobs/TARGET/ID names it), the run and
// its outputs are fetched, the refs the job moved are applied, and the
// outputs are checked out as for a run-cache hit. Otherwise the job ended
// without recording (cancelled, timed out, lost, refused) and dv records
// a failed run here with the engine's log, exit code and the reason.
func (c *Client) collect(ctx context.Context, j *Job, st JobState) (*train.RunResult, error) {
	runID, err := readRemoteRef(ctx, c.Sync, JobRef(j.Target, j.ID))
	if err != nil {
		return nil, err
	}
	if runID.IsZero() {
		return c.recordLost(ctx, j, st)
	}
	return c.collectRun(ctx, j, runID)
}

// collectRun brings the run the job recorded into the project.
func (c *Client) collectRun(ctx context.Context, j *Job, runID objects.ID) (*train.RunResult, error) {
	o := j.Spec.RunOptions()
	rn := c.runner()
	if _, err := c.Sync.Fetch(ctx, []objects.ID{runID}); err != nil {
		return nil, fmt.Errorf("job %s: fetch its run %s: %w", j.Ref(), runID.Short(), err)
	}
	run, err := lineage.Load(ctx, c.Repo.Store, runID)
	if err != nil {
		return nil, err
	}
	want := map[string]objects.ID{JobRef(j.Target, j.ID): runID}
	names := []string{lineage.RefFor(lineage.TypeRun, o.Name)}
	roots := []objects.ID{}
	if run.Status == train.StatusSucceeded {
		want[train.CacheRefPrefix+run.CacheKey] = runID
		if o.Model != nil {
			names = append(names, lineage.RefFor(lineage.TypeModel, o.Model.Name), lineage.RefFor(lineage.TypeMetrics, o.Model.Name))
		}
		for _, out := range run.Outputs {
			roots = append(roots, out.Data)
			if o.Model != nil && out.Path == o.Model.Path {
				continue
			}
			if p, err := pointer.Read(c.Repo.Abs(out.Path) + pointer.Ext); err == nil {
				_, ref := lineage.Version(out.Path, p, nil)
				names = append(names, ref)
			} else {
				names = append(names, lineage.RefFor(lineage.TypeDataset, out.Path))
			}
		}
	}
	for _, n := range names {
		id, err := readRemoteRef(ctx, c.Sync, n)
		if err != nil {
			return nil, err
		}
		if !id.IsZero() {
			want[n] = id
			roots = append(roots, id)
		}
	}
	if _, err := c.Sync.Fetch(ctx, roots); err != nil {
		return nil, fmt.Errorf("job %s: fetch its outputs: %w", j.Ref(), err)
	}
	diverged, err := c.Sync.ApplyRefs(ctx, c.Rec.Refs, want)
	if err != nil {
		return nil, err
	}
	j.Run, j.Status, j.Node = runID, run.Status, nodeOf(run, j.Node)
	if kept := keptRefs(diverged); len(kept) > 0 {
		// The job's versions are on the remote, but not on this
		// project's chains: say so rather than report the run as here.
		if err := j.save(c.Repo.Dir); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("job %s: run %s is recorded on remote %s, but %s moved here since your last fetch and %s kept: dv fetch, decide which to keep, then dv run again (the run cache serves the job's outputs)",
			j.Ref(), runID.Short(), c.RemoteName, strings.Join(kept, ", "), map[bool]string{true: "was", false: "were"}[len(kept) == 1])
	}
	if run.Status != train.StatusSucceeded {
		j.Reason = run.Reason
		if err := j.save(c.Repo.Dir); err != nil {
			return nil, err
		}
		res := &train.RunResult{Name: o.Name, Run: runID, Status: run.Status, ExitCode: run.ExitCode,
			Start: run.Start, End: run.End, Log: run.Log, CacheKey: run.CacheKey}
		return res, &train.FailedError{Name: o.Name, Command: o.Command[0], ExitCode: run.ExitCode, Reason: run.Reason, Run: runID}
	}
	res, err := rn.Restore(ctx, o, run.CacheKey)
	if err != nil {
		return nil, fmt.Errorf("job %s: check out its outputs: %w", j.Ref(), err)
	}
	if res == nil {
		return nil, fmt.Errorf("job %s: run %s is recorded but its outputs could not be restored; dv pull, then dv run again", j.Ref(), runID.Short())
	}
	res.Cached = false
	if err := j.save(c.Repo.Dir); err != nil {
		return nil, err
	}
	return res, nil
}

// keptRefs are the diverged refs that matter: a run-cache entry another
// identical run wrote here serves as well as the job's.
func keptRefs(diverged []string) []string {
	var out []string
	for _, n := range diverged {
		if !strings.HasPrefix(n, train.CacheRefPrefix) {
			out = append(out, n)
		}
	}
	return out
}

func nodeOf(run *lineage.Record, fallback string) string {
	if run.Job != nil && run.Job.Node != "" {
		return run.Job.Node
	}
	return fallback
}

// recordLost records the failed run of a job that ended without
// recording one. A lost job (one the engine forgot, a failed node, a
// preemption, an evicted pod) may yet come back (Slurm requeues, a Job's
// next pod): it is cancelled first, and the remote asked again whether
// the job recorded its run meanwhile, which is then collected instead.
func (c *Client) recordLost(ctx context.Context, j *Job, st JobState) (*train.RunResult, error) {
	o := j.Spec.RunOptions()
	rn := c.runner()
	var log io.Reader
	if b, err := c.engine().Log(ctx, j, 0); err == nil {
		log = bytes.NewReader(b)
	}
	if st.State == StateLost {
		_ = c.engine().Cancel(ctx, j) // best effort: mostly, nothing is left
		runID, err := readRemoteRef(ctx, c.Sync, JobRef(j.Target, j.ID))
		if err != nil {
			return nil, err
		}
		if !runID.IsZero() {
			return c.collectRun(ctx, j, runID)
		}
	}
	plan := &train.Plan{Inputs: j.Inputs, CacheKey: j.Spec.CacheKey}
	reason := st.Reason
	switch {
	case st.State == StateCancelled && reason == "":
		reason = "cancelled"
	case st.State == StateSucceeded || st.State == StateFailed && !st.Stop:
		reason = fmt.Sprintf("the job's dv exited with status %d before recording the run (%s)", st.ExitCode, st.State)
		if st.Reason != "" {
			reason += ": " + st.Reason
		}
	case reason == "":
		reason = st.State
	}
	reason = fmt.Sprintf("job %s on %s: %s", j.ID, j.Target, reason)
	code := st.ExitCode
	if code == 0 {
		code = 1
	}
	job := &lineage.Job{Engine: j.Engine, Target: j.Target, ID: j.ID, Node: j.Node}
	res, ferr := rn.RecordJobFailure(ctx, o, plan, job, j.Submitted, c.Rec.Now(), code, reason, log)
	if res != nil && !res.Run.IsZero() {
		j.Run, j.Status, j.Reason = res.Run, train.StatusFailed, reason
		if err := j.save(c.Repo.Dir); err != nil {
			return res, err
		}
	}
	return res, ferr
}
