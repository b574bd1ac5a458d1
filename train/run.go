package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
)

// Run statuses.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// CacheRefPrefix starts the refs of the run cache: runcache/<key> names
// the successful run with that key.
const CacheRefPrefix = "runcache/"

// RunOptions describe one run. Paths are work-tree paths (see
// workspace.Repo.Rel).
type RunOptions struct {
	Name    string            // runs/NAME moves to the run record
	Command []string          // argv, run without a shell in the project root
	Deps    []string          // inputs: tracked paths, or paths inside tracked data
	Outs    []string          // outputs, stored as new versions after a successful run
	Params  map[string]string // passed as DV_PARAM_<KEY> and in DV_PARAMS_FILE
	Force   bool              // run even when the run cache has the result

	// Model makes the run a training run (dv train).
	Model *ModelOptions

	// Stdout and Stderr receive the command's output as it runs (nil:
	// only the log gets it).
	Stdout, Stderr io.Writer
	// Versions are added to the recorded environment (dv's own version).
	Versions map[string]string

	// Parents are more provenance parents of the run record, after its
	// inputs' versions (dv retrain: the run it repeats, the drift check
	// that prompted it). Meta is stored on the run record. Neither is part
	// of the run cache's key.
	Parents []objects.ID
	Meta    map[string]string
	// Job is recorded on the run when it runs as a compute engine's job
	// (dv job); it is not part of the cache key.
	Job *lineage.Job

	packages []byte // the Python package list captured with the environment
}

// ModelOptions describe the output of a training run.
type ModelOptions struct {
	Name        string // models/NAME moves to the model version
	Path        string // the model output; one of Outs
	MetricsFile string // work-tree path of a JSON, YAML or CSV file; may be empty
}

// Validate checks the options without touching the disk.
func (o *RunOptions) Validate() error {
	if o.Name == "" {
		return errors.New("a run needs a name (-n NAME)")
	}
	if err := refs.ValidName("runs/" + o.Name); err != nil {
		return fmt.Errorf("run name %q: use letters, digits, '.', '_', '-' and '/'", o.Name)
	}
	if len(o.Command) == 0 || o.Command[0] == "" {
		return errors.New("no command to run (give it after --)")
	}
	if o.Model != nil {
		if err := refs.ValidName("models/" + o.Model.Name); err != nil {
			return fmt.Errorf("model name %q: use letters, digits, '.', '_', '-' and '/'", o.Model.Name)
		}
		if !containsString(o.Outs, o.Model.Path) {
			return fmt.Errorf("model path %s is not an output", o.Model.Path)
		}
	}
	return nil
}

// CheckRefNames checks the refs the run will move (runs/NAME; for a
// training run models/NAME, and metrics/NAME with a metrics file) against
// the refs there are: no ref name may be a directory of another (git's
// rule, see refs.Store.CheckName). Plan calls it before anything runs.
func (o *RunOptions) CheckRefNames(rs *refs.Store) error {
	names := []string{lineage.RefFor(lineage.TypeRun, o.Name)}
	if o.Model != nil {
		names = append(names, lineage.RefFor(lineage.TypeModel, o.Model.Name))
		if o.Model.MetricsFile != "" {
			names = append(names, lineage.RefFor(lineage.TypeMetrics, o.Model.Name))
		}
	}
	for _, n := range names {
		if err := rs.CheckName(n); err != nil {
			return err
		}
	}
	return nil
}

// RunResult is what a run did.
type RunResult struct {
	Name     string             `json:"name"`
	Run      objects.ID         `json:"run"`    // the run record (the cached one on a hit)
	Cached   bool               `json:"cached"` // served from the run cache
	CacheKey string             `json:"cache_key,omitempty"`
	Status   string             `json:"status"`
	ExitCode int                `json:"exit_code"`
	Start    time.Time          `json:"start,omitzero"`
	End      time.Time          `json:"end,omitzero"`
	Log      objects.ID         `json:"log,omitzero"`
	Outputs  []lineage.IO       `json:"outputs,omitempty"`
	Model    objects.ID         `json:"model,omitzero"` // the model version record
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	// NoCache says why the run cache was not used ("" when it was).
	NoCache string `json:"no_cache,omitempty"`
}

// FailedError reports a run whose command failed or whose outputs could
// not be recorded; the failed run is recorded as Run.
type FailedError struct {
	Name     string
	Command  string
	ExitCode int
	Reason   string // set when the command succeeded but the run still failed
	Run      objects.ID
}

func (e *FailedError) Error() string {
	what := fmt.Sprintf("%s exited with status %d", e.Command, e.ExitCode)
	if e.Reason != "" {
		what = e.Reason
	}
	return fmt.Sprintf("run %s failed: %s; its output: dv runs --log %s", e.Name, what, e.Run.Short())
}

// Runner runs commands in a project and records them.
type Runner struct {
	Repo *workspace.Repo
	Rec  *lineage.Recorder // stamps records; its Code is the git context
}

// Run pins the inputs, serves the outputs from the run cache when an
// identical successful run is recorded (unless Force), and otherwise runs
// the command, records the run and stores the outputs as new versions.
func (rn *Runner) Run(ctx context.Context, o RunOptions) (*RunResult, error) {
	p, err := rn.Plan(ctx, o)
	if err != nil {
		return nil, err
	}
	res := &RunResult{Name: o.Name, CacheKey: p.CacheKey, NoCache: p.NoCache}
	if res.CacheKey != "" && !o.Force {
		hit, err := rn.Restore(ctx, o, res.CacheKey)
		if err != nil || hit != nil {
			return hit, err
		}
	}
	return rn.execute(ctx, o, p.Inputs, res)
}

// Plan is what a run will use, known before it runs: its pinned inputs
// and its cache key.
type Plan struct {
	Inputs   []lineage.IO
	CacheKey string // "" when the run cache is off
	NoCache  string // why the run cache is off
	Code     *CodeState
}

// Plan checks the options, pins the inputs and computes the cache key,
// without running anything.
func (rn *Runner) Plan(ctx context.Context, o RunOptions) (*Plan, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := o.CheckRefNames(rn.Rec.Refs); err != nil {
		return nil, err
	}
	if err := CheckOutputs(ctx, rn.Repo, o.Deps, o.Outs); err != nil {
		return nil, err
	}
	inputs, err := CheckInputs(ctx, rn.Repo, o.Deps)
	if err != nil {
		return nil, err
	}
	p := &Plan{Inputs: inputs}
	written := append([]string{}, o.Outs...)
	if o.Model != nil && o.Model.MetricsFile != "" {
		written = append(written, o.Model.MetricsFile)
	}
	code, err := ReadCodeState(ctx, rn.Repo.Root, o.Command, written)
	switch {
	case errors.Is(err, ErrNoCodeState):
		p.NoCache = err.Error()
	case err != nil:
		return nil, err
	default:
		k := KeyInput{Command: o.Command, Params: o.Params, Inputs: inputs, Outputs: o.Outs, Code: code}
		if o.Model != nil {
			k.Model = o.Model.Name + "\x00" + o.Model.MetricsFile
		}
		p.CacheKey, p.Code = CacheKey(k), code
	}
	return p, nil
}

// execute runs the command and records the run.
func (rn *Runner) execute(ctx context.Context, o RunOptions, inputs []lineage.IO, res *RunResult) (*RunResult, error) {
	tmp, err := os.MkdirTemp(rn.Repo.Dir, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	paramsFile := tmp + "/params.json"
	if err := os.WriteFile(paramsFile, ParamsJSON(o.Params), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(tmp + "/log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	penv := ParamEnv(o.Params, paramsFile)
	envc := make(chan RunEnv, 1)
	go func() { envc <- CaptureRunEnv(ctx, rn.Repo.Root, o.Command, penv, o.Versions) }()
	res.Start = rn.Rec.Now().UTC()
	status, err := execute(ctx, rn.Repo.Root, o.Command, penv, o.Stdout, o.Stderr, logf)
	res.End = rn.Rec.Now().UTC()
	renv := <-envc
	env := renv.Env
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", o.Name, err)
	}
	res.ExitCode = status
	run := &lineage.Record{Type: lineage.TypeRun, Name: o.Name, Command: o.Command, Params: o.Params,
		Inputs: inputs, ExitCode: status, Start: res.Start, End: res.End, Env: env,
		CodeTree: rn.Rec.Code.Tree, CacheKey: res.CacheKey, Meta: o.Meta, Job: o.Job}
	o.packages = renv.Packages
	var reason string
	var metricsData []byte
	if status == 0 {
		reason = checkProduced(rn.Repo, o.Outs, o.Command[0])
		if reason == "" && o.Model != nil && o.Model.MetricsFile != "" {
			res.Metrics, metricsData, err = readMetricsFile(rn.Repo.Abs(o.Model.MetricsFile), o.Model.MetricsFile)
			if err != nil {
				reason = err.Error()
			}
		}
	}
	if status != 0 || reason != "" {
		return res, rn.recordFailed(ctx, o, run, res, logf, reason)
	}
	if err := rn.recordSucceeded(ctx, o, run, res, logf, metricsData); err != nil {
		return res, err
	}
	return res, nil
}

// recordFailed records a failed run with its log and no outputs, and
// returns the *FailedError that reports it.
func (rn *Runner) recordFailed(ctx context.Context, o RunOptions, run *lineage.Record, res *RunResult, logf *os.File, reason string) error {
	w := rn.Repo.Store.NewWriter()
	b := &batch{rc: rn.Rec, w: w}
	var err error
	if run.Log, err = putLog(ctx, w, logf); err != nil {
		w.Abort()
		return fmt.Errorf("run %s: store the log: %w", o.Name, err)
	}
	if err := putPackages(ctx, w, run, o.packages); err != nil {
		w.Abort()
		return fmt.Errorf("run %s: store the package list: %w", o.Name, err)
	}
	run.Status, run.Outputs, run.Metrics, run.Reason = StatusFailed, nil, nil, reason
	run.Parents, run.Objects = runLinks(run, o.Parents)
	id, err := b.put(ctx, run, lineage.RefFor(lineage.TypeRun, o.Name))
	if err != nil {
		w.Abort()
		return err
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	if err := b.commit(ctx); err != nil {
		return err
	}
	res.Run, res.Log, res.Status, res.Metrics = id, run.Log, StatusFailed, nil
	return &FailedError{Name: o.Name, Command: o.Command[0], ExitCode: run.ExitCode, Reason: reason, Run: id}
}

// putLog stores the content of the log file.
func putLog(ctx context.Context, w objects.Putter, f *os.File) (objects.ID, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return objects.ID{}, err
	}
	id, _, err := objects.PutFile(ctx, w, f, 1)
	return id, err
}

// checkProduced names the first declared output the command did not
// leave behind (or left as a symlink), or returns "".
func checkProduced(r *workspace.Repo, outs []string, cmd string) string {
	for _, out := range outs {
		fi, err := os.Lstat(r.Abs(out))
		switch {
		case err != nil:
			return fmt.Sprintf("%s exited with status 0 but did not create the output %s", cmd, out)
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Sprintf("the output %s is a symlink; a run's outputs must be files or directories", out)
		}
	}
	return ""
}

// runLinks returns a run's parents (the inputs' version records, then
// extra) and the objects it holds (its log, and its Python package list).
// The inputs' and outputs' data are named in Inputs and Outputs but held by
// the pointer files in git, as for dataset versions.
func runLinks(run *lineage.Record, extra []objects.ID) (parents, objs []objects.ID) {
	seen := map[objects.ID]bool{}
	for _, in := range run.Inputs {
		if !in.Record.IsZero() && !seen[in.Record] {
			seen[in.Record] = true
			parents = append(parents, in.Record)
		}
	}
	for _, id := range extra {
		if !id.IsZero() && !seen[id] {
			seen[id] = true
			parents = append(parents, id)
		}
	}
	objs = []objects.ID{run.Log}
	if run.Env != nil && run.Env.Python != nil && !run.Env.Python.Packages.IsZero() && run.Env.Python.Packages != run.Log {
		objs = append(objs, run.Env.Python.Packages)
	}
	return parents, objs
}

// putPackages stores the Python package list and names it in the run's
// environment.
func putPackages(ctx context.Context, w objects.Putter, run *lineage.Record, list []byte) error {
	if run.Env == nil || run.Env.Python == nil || list == nil {
		return nil
	}
	id, _, err := objects.PutFile(ctx, w, bytes.NewReader(list), 1)
	run.Env.Python.Packages = id
	return err
}

// batch prepares records in one writer and moves their refs, in order,
// once the writer is flushed.
type batch struct {
	rc      *lineage.Recorder
	w       objects.Putter
	commits []func(context.Context) error
}

func (b *batch) put(ctx context.Context, r *lineage.Record, ref string) (objects.ID, error) {
	id, commit, err := b.rc.Prepare(ctx, b.w, r, ref)
	if err != nil {
		return id, err
	}
	b.commits = append(b.commits, commit)
	return id, nil
}

func (b *batch) then(fn func(context.Context) error) { b.commits = append(b.commits, fn) }

func (b *batch) commit(ctx context.Context) error {
	for _, c := range b.commits {
		if err := c(ctx); err != nil {
			return err
		}
	}
	return nil
}

// setCache points runcache/<key> at run.
func (rn *Runner) setCache(ctx context.Context, key string, run objects.ID) error {
	name := CacheRefPrefix + key
	cur, err := rn.Rec.Refs.Get(name)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return err
	}
	err = rn.Rec.Refs.CompareAndSwap(ctx, name, cur, run)
	if errors.Is(err, refs.ErrConflict) {
		return nil // another identical run recorded itself meanwhile
	}
	return err
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
