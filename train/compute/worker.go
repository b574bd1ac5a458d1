package compute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
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
	run, err := w.push(ctx, res)
	if err != nil {
		return res, errors.Join(runErr, err)
	}
	res.Run = run
	if err := w.markRecorded(ctx, JobRef(spec.Target, id), run); err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

// markRecorded pushes the job's own ref jobs/TARGET/ID, naming its run,
// once every other ref went: the submitter collects the run only then, so
// a run whose refs did not all move (a conflict that rebasing could not
// settle) is never collected as if they had.
func (w *Worker) markRecorded(ctx context.Context, name string, run objects.ID) error {
	dir, err := os.MkdirTemp(w.Repo.Dir, "jobref-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	one := refs.Open(dir)
	if err := one.CompareAndSwap(ctx, name, objects.ID{}, run); err != nil {
		return err
	}
	if _, err := w.Sync.PushRefs(ctx, one); err != nil {
		return fmt.Errorf("job: mark the run recorded (%s): %w", name, err)
	}
	return nil
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
		p, err := pointer.Read(w.Repo.Abs(out) + pointer.Ext)
		if err != nil {
			p = &pointer.Pointer{Kind: "dataset"}
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
	if len(want) == 0 {
		return nil
	}
	// The records themselves (not the data they hold): a new model
	// version is numbered after the previous one.
	ridx, err := w.Sync.LoadIndex(ctx)
	if err != nil {
		return err
	}
	ids := make([]objects.ID, 0, len(want))
	for _, id := range want {
		ids = append(ids, id)
	}
	if _, err := w.Sync.FetchOne(ctx, ridx, ids); err != nil {
		return fmt.Errorf("job: fetch the records the run continues: %w", err)
	}
	_, err = w.Sync.ApplyRefs(ctx, w.Rec.Refs, want)
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
// remote's refs by compare-and-swap. A ref another job moved meanwhile
// (two jobs of one name finishing at once) is rebased: the job's record
// is written again with the remote's value as its previous version, so
// that both are in the history and nothing is lost; then the refs are
// pushed again. It returns the run's record as the remote has it (the
// rebased one when runs/NAME was rebased).
func (w *Worker) push(ctx context.Context, res *train.RunResult) (objects.ID, error) {
	run := res.Run
	_, vals, err := w.Rec.Refs.List()
	if err != nil {
		return run, err
	}
	roots := []objects.ID{res.Run}
	for _, id := range vals {
		roots = append(roots, id)
	}
	for _, out := range res.Outputs {
		roots = append(roots, out.Data)
	}
	if _, err := w.Sync.Push(ctx, roots); err != nil {
		return run, fmt.Errorf("job: push the run: %w", err)
	}
	for attempt := 0; ; attempt++ {
		_, err := w.Sync.PushRefs(ctx, w.Rec.Refs)
		if err == nil {
			return run, nil
		}
		if !errors.Is(err, refs.ErrConflict) || attempt == maxRebase {
			return run, fmt.Errorf("job: move the remote's refs: %w", err)
		}
		rebased, renamed, err := w.rebase(ctx)
		if err != nil {
			return run, err
		}
		if id, ok := renamed[run]; ok {
			run = id
		}
		if _, err := w.Sync.Push(ctx, rebased); err != nil {
			return run, fmt.Errorf("job: push the run: %w", err)
		}
	}
}

// maxRebase bounds the rounds of rebasing refs that other jobs move.
const maxRebase = 5

// rebase rewrites, for each ref whose remote value is not the job's, the
// job's record with the remote's value as its previous version, and
// points the ref at the new record (the remote's value becomes the one
// last seen, so the next push moves it by compare-and-swap). A run-cache
// entry another identical run wrote is kept as it is; the other refs that
// named a rewritten record (the run-cache entry of a rebased run) move to
// the new one. It returns the new records, and each rewritten record's
// new id.
func (w *Worker) rebase(ctx context.Context) ([]objects.ID, map[objects.ID]objects.ID, error) {
	names, vals, err := w.Rec.Refs.List()
	if err != nil {
		return nil, nil, err
	}
	var out []objects.ID
	renamed := map[objects.ID]objects.ID{}
	handled := map[string]bool{}
	wr := w.Repo.Store.NewWriter()
	var moves []func() error
	for _, n := range names {
		cur, err := readRemoteRef(ctx, w.Sync, n)
		if err != nil {
			wr.Abort()
			return nil, nil, err
		}
		if cur.IsZero() || cur == vals[n] {
			continue
		}
		handled[n] = true
		seen := map[string]objects.ID{n: cur}
		if strings.HasPrefix(n, train.CacheRefPrefix) {
			old := vals[n]
			moves = append(moves, func() error {
				if err := w.Rec.Refs.CompareAndSwap(ctx, n, old, cur); err != nil {
					return err
				}
				_, err := w.Sync.ApplyRefs(ctx, w.Rec.Refs, seen)
				return err
			})
			continue
		}
		rec, err := lineage.Load(ctx, w.Repo.Store, vals[n])
		if err != nil {
			wr.Abort()
			return nil, nil, fmt.Errorf("job: rebase %s: %w", n, err)
		}
		rec.Previous = cur
		if rec.Type == lineage.TypeModel {
			if rec.Number, err = w.nextNumber(ctx, cur); err != nil {
				wr.Abort()
				return nil, nil, fmt.Errorf("job: rebase %s: %w", n, err)
			}
		}
		id, err := lineage.Put(ctx, wr, rec)
		if err != nil {
			wr.Abort()
			return nil, nil, err
		}
		old := vals[n]
		renamed[old] = id
		out = append(out, id)
		moves = append(moves, func() error {
			if err := w.Rec.Refs.CompareAndSwap(ctx, n, old, id); err != nil {
				return err
			}
			// The remote's value is now the one seen; the local ref keeps
			// the rebased record.
			_, err := w.Sync.ApplyRefs(ctx, w.Rec.Refs, seen)
			return err
		})
	}
	if err := wr.Flush(ctx); err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		if id, ok := renamed[vals[n]]; ok && !handled[n] {
			old := vals[n]
			moves = append(moves, func() error { return w.Rec.Refs.CompareAndSwap(ctx, n, old, id) })
		}
	}
	for _, m := range moves {
		if err := m(); err != nil {
			return nil, nil, err
		}
	}
	return out, renamed, nil
}

// nextNumber is the number of the model version after the remote's
// record prev.
func (w *Worker) nextNumber(ctx context.Context, prev objects.ID) (int, error) {
	ridx, err := w.Sync.LoadIndex(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := w.Sync.FetchOne(ctx, ridx, []objects.ID{prev}); err != nil {
		return 0, err
	}
	rec, err := lineage.Load(ctx, w.Repo.Store, prev)
	if err != nil {
		return 0, err
	}
	return rec.Number + 1, nil
}
