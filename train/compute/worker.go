package compute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/train"
)

// Worker is dv job: the run inside a compute engine's job, in a fresh
// clone of the project at the spec's commit.
type Worker struct {
	Repo           *workspace.Repo
	Rec            *lineage.Recorder
	Sync           *remote.Syncer
	Stdout, Stderr io.Writer
	Versions       map[string]string
	Getenv         func(string) string // os.Getenv when nil
}

// ErrNotInJob is dv job run by hand, outside a job dv submitted.
var ErrNotInJob = errors.New("dv job runs inside a job that dv run --on submitted (no DV_JOB_ID or SLURM_JOB_ID)")

// identity returns the job's id and node from the engine's environment.
func (w *Worker) identity(engine string) (id, node string) {
	get := w.Getenv
	if get == nil {
		get = os.Getenv
	}
	id, node = get("DV_JOB_ID"), get("DV_NODE")
	if engine == Slurm {
		if id == "" {
			id = get("SLURM_JOB_ID")
		}
		if node == "" {
			node = get("SLURMD_NODENAME")
		}
	}
	if node == "" {
		node, _ = os.Hostname()
	}
	return id, node
}

// Run fetches exactly the run's inputs from the remote, runs the command
// with its params (train.Runner, as locally), and pushes the outputs, the
// log and the records. Refs move on the remote by compare-and-swap; the
// job's own ref jobs/TARGET/ID tells the submitter which run it recorded.
// A failed command is recorded and pushed too; its *train.FailedError is
// returned.
func (w *Worker) Run(ctx context.Context, spec *Spec) (*train.RunResult, error) {
	id, node := w.identity(spec.Engine)
	if id == "" {
		return nil, ErrNotInJob
	}
	if w.Rec.Code.Commit != spec.Commit {
		return nil, fmt.Errorf("job: the clone is at commit %q, the job is for %s", w.Rec.Code.Commit, spec.Commit)
	}
	o := spec.RunOptions()
	o.Force = true // the submitter consulted the cache
	o.Stdout, o.Stderr, o.Versions = w.Stdout, w.Stderr, w.Versions
	o.Job = &lineage.Job{Engine: spec.Engine, Target: spec.Target, ID: id, Node: node}
	if err := w.applyRefs(ctx, o); err != nil {
		return nil, err
	}
	if err := w.fetchInputs(ctx, o.Deps); err != nil {
		return nil, err
	}
	rn := &train.Runner{Repo: w.Repo, Rec: w.Rec}
	plan, err := rn.Plan(ctx, o)
	if err != nil {
		return nil, err
	}
	if plan.CacheKey != spec.CacheKey {
		return nil, fmt.Errorf("job: the run's cache key here (%.12s) is not the submitter's (%.12s): the clone differs from the submitted project", plan.CacheKey, spec.CacheKey)
	}
	res, runErr := rn.Run(ctx, o)
	if res == nil || res.Run.IsZero() {
		return res, runErr
	}
	if err := w.Rec.Refs.CompareAndSwap(ctx, JobRef(spec.Target, id), objects.ID{}, res.Run); err != nil {
		return res, err
	}
	if err := w.push(ctx, res); err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

// applyRefs sets the clone's refs of what the run moves to the remote's
// values, so its records continue the remote's history (their data is
// not needed to run).
func (w *Worker) applyRefs(ctx context.Context, o train.RunOptions) error {
	names := []string{lineage.RefFor(lineage.TypeRun, o.Name)}
	if o.Model != nil {
		names = append(names, lineage.RefFor(lineage.TypeModel, o.Model.Name), lineage.RefFor(lineage.TypeMetrics, o.Model.Name))
	}
	for _, out := range o.Outs {
		if o.Model != nil && out == o.Model.Path {
			continue
		}
		p, err := workspace.ReadPointer(w.Repo.Abs(out) + workspace.PointerExt)
		if err != nil {
			p = &workspace.Pointer{Kind: "dataset"}
		}
		_, ref := lineage.Version(out, p, nil)
		names = append(names, ref)
	}
	want := map[string]objects.ID{}
	for _, n := range names {
		id, err := readRemoteRef(ctx, w.Sync, n)
		if err != nil {
			return err
		}
		if !id.IsZero() {
			want[n] = id
		}
	}
	_, err := w.Sync.ApplyRefs(ctx, w.Rec.Refs, want)
	return err
}

// fetchInputs fetches the data of the tracked paths the inputs lie in,
// and checks them out.
func (w *Worker) fetchInputs(ctx context.Context, deps []string) error {
	if len(deps) == 0 {
		return nil
	}
	ptrs, err := w.Repo.ReadPointers(ctx, nil)
	if err != nil {
		return err
	}
	var roots []objects.ID
	var tops []string
	for _, d := range deps {
		top := ""
		for p := range ptrs {
			if d == p || len(d) > len(p) && d[:len(p)+1] == p+"/" {
				top = p
			}
		}
		if top == "" {
			return fmt.Errorf("input %s: no pointer file at commit (not tracked by dv)", d)
		}
		roots, tops = append(roots, ptrs[top].OID), append(tops, top)
	}
	if _, err := w.Sync.Fetch(ctx, roots); err != nil {
		return fmt.Errorf("job: fetch the inputs: %w", err)
	}
	if _, err := w.Repo.Checkout(ctx, tops, workspace.CheckoutOptions{Force: true}); err != nil {
		return fmt.Errorf("job: check out the inputs: %w", err)
	}
	return nil
}

// push uploads the run's records, log and outputs, then moves the
// remote's refs by compare-and-swap.
func (w *Worker) push(ctx context.Context, res *train.RunResult) error {
	_, vals, err := w.Rec.Refs.List()
	if err != nil {
		return err
	}
	roots := []objects.ID{res.Run}
	for _, id := range vals {
		roots = append(roots, id)
	}
	for _, out := range res.Outputs {
		roots = append(roots, out.Data)
	}
	if _, err := w.Sync.Push(ctx, roots); err != nil {
		return fmt.Errorf("job: push the run: %w", err)
	}
	if _, err := w.Sync.PushRefs(ctx, w.Rec.Refs); err != nil {
		return fmt.Errorf("job: move the remote's refs: %w", err)
	}
	return nil
}
