package compute

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/train"
)

// Client submits runs to one compute target and follows them.
type Client struct {
	Repo       *workspace.Repo
	Rec        *lineage.Recorder
	Sync       *remote.Syncer // the target's dv remote
	RemoteName string
	RemoteURL  string // the remote's URL as dv.yaml gives it
	Target     string
	T          Target
	// Log receives the job's log as it arrives (nil: not streamed);
	// Notes receives dv's own lines (submitted, state changes).
	Log, Notes io.Writer

	eng engine // tests: the engine instead of T.Engine's
}

// Options say how to submit.
type Options struct {
	DryRun bool // render and print, submit nothing
	Detach bool // return once submitted
}

// Result is what dv run --on did: a run served from the cache, a job
// submitted (Detach), a rendered job (DryRun), or a followed job's run.
type Result struct {
	Run      *train.RunResult `json:"run,omitempty"`
	Job      *Job             `json:"job,omitempty"`
	Rendered string           `json:"rendered,omitempty"`
}

// NotReadyError is a run the cluster could not reproduce: what is missing
// (inputs not on the remote, a commit not pushed, uncommitted changes).
type NotReadyError struct{ Missing []string }

func (e *NotReadyError) Error() string {
	return "cannot submit: " + strings.Join(e.Missing, "; ")
}

func (c *Client) engine() engine {
	if c.eng != nil {
		return c.eng
	}
	if c.T.Engine == Kubernetes {
		return kube{cur: &kubeCursor{}}
	}
	return slurm{}
}

func (c *Client) runner() *train.Runner { return &train.Runner{Repo: c.Repo, Rec: c.Rec} }

// Run is dv run --on: the same plan and cache key as a local run; a
// cached run is served locally and nothing is submitted. Otherwise it
// checks that the cluster can reproduce the run (commit pushed, inputs
// on the remote), submits the job and, unless Detach, follows it to its
// recorded run.
func (c *Client) Run(ctx context.Context, o train.RunOptions, opts Options) (*Result, error) {
	rn := c.runner()
	plan, err := rn.Plan(ctx, o)
	if err != nil {
		return nil, err
	}
	if plan.CacheKey == "" {
		return nil, fmt.Errorf("--on %s: the run cache is off (%s); a job runs a git commit, so the project must be in git", c.Target, plan.NoCache)
	}
	if !o.Force && !opts.DryRun {
		hit, err := rn.Restore(ctx, o, plan.CacheKey)
		if err != nil || hit != nil {
			return &Result{Run: hit}, err
		}
	}
	src, missing := c.source(ctx, o)
	remoteURL, rmiss := c.jobRemote()
	missing = append(missing, rmiss...)
	if !opts.DryRun {
		missing = append(missing, c.missingInputs(ctx, plan.Inputs)...)
		if len(missing) > 0 {
			return nil, &NotReadyError{Missing: missing}
		}
	}
	spec := specOf(c.Target, c.T, o, src.Commit, plan.CacheKey, c.RemoteName, remoteURL)
	j := &Job{Target: c.Target, Engine: c.T.Engine, Name: o.Name, Spec: spec, Inputs: plan.Inputs, Context: c.T.Context,
		Namespace: c.T.Namespace, Submitted: c.Rec.Now().UTC(), Timeout: c.T.TimeoutDuration(), State: StatePending}
	var payload []byte
	switch c.T.Engine {
	case Kubernetes:
		h := blake3.Sum256([]byte(plan.CacheKey + j.Submitted.Format(time.RFC3339Nano)))
		j.ID = KubeJobName(o.Name, hex.EncodeToString(h[:])[:8])
		kj := KubernetesJob(c.T, src, spec, j.ID)
		if opts.DryRun {
			return &Result{Rendered: string(kj.YAML())}, nil
		}
		payload = kj.JSON()
	default:
		j.Output = c.T.Output
		if j.Output == "" {
			j.Output = filepath.Join(c.Repo.Dir, JobsDir, c.Target, jobName(o.Name)+"-%j.log")
		}
		script := SlurmScript(c.T, src, spec, j.Output)
		if opts.DryRun {
			return &Result{Rendered: script}, nil
		}
		payload = []byte(script)
	}
	id, err := c.engine().Submit(ctx, j, payload)
	var refused *RefusedError
	if errors.As(err, &refused) {
		// Recorded, so that dv runs shows the attempt and its reason.
		job := &lineage.Job{Engine: j.Engine, Target: j.Target}
		now := c.Rec.Now()
		res, ferr := rn.RecordJobFailure(ctx, o, plan, job, now, now, 1, fmt.Sprintf("--on %s: %v", c.Target, err), nil)
		return &Result{Run: res}, ferr
	}
	if err != nil {
		return nil, fmt.Errorf("--on %s: %w", c.Target, err)
	}
	j.ID = id
	if err := j.save(c.Repo.Dir); err != nil {
		return nil, err
	}
	c.note("%s: submitted to %s as job %s\n", o.Name, c.Target, j.Ref())
	if opts.Detach {
		return &Result{Job: j}, nil
	}
	res, err := c.Follow(ctx, j)
	return &Result{Run: res, Job: j}, err
}

func (c *Client) note(format string, args ...any) {
	if c.Notes != nil {
		fmt.Fprintf(c.Notes, format, args...)
	}
}

// source finds the git URL the job clones (without the credentials the
// URL may hold: see cloneURL) and checks that the commit is clean and
// pushed.
func (c *Client) source(ctx context.Context, o train.RunOptions) (Source, []string) {
	src := Source{Commit: c.Rec.Code.Commit}
	var missing []string
	if src.Commit == "" {
		return src, []string{"no git commit to run (commit the code first)"}
	}
	missing = append(missing, uncommittedCode(ctx, c.Repo.Root, o, src.Commit)...)
	gr := c.T.GitRemote
	if gr == "" {
		gr = "origin"
	}
	url, err := gitOut(ctx, c.Repo.Root, "remote", "get-url", gr)
	if err != nil {
		return src, append(missing, fmt.Sprintf("no git remote %s for the job to clone (git remote add %s URL, or compute.%s.git_remote)", gr, gr, c.Target))
	}
	if isLocalPath(url) && !filepath.IsAbs(url) {
		url = filepath.Join(c.Repo.Root, url)
	}
	src.GitURL = cloneURL(url)
	if out, err := gitOut(ctx, c.Repo.Root, "branch", "-r", "--contains", src.Commit); err != nil || strings.TrimSpace(out) == "" {
		missing = append(missing, fmt.Sprintf("commit %s is not on any remote-tracking branch (git push %s first)", src.Commit[:12], gr))
	}
	return src, missing
}

func isLocalPath(u string) bool {
	return !strings.Contains(u, "://") && !strings.Contains(strings.SplitN(u, "/", 2)[0], ":")
}

func gitOut(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// jobRemote returns the remote URL the job uses when it is a folder (as an
// absolute path), and what makes the remote unreachable from the target.
func (c *Client) jobRemote() (string, []string) {
	u := c.RemoteURL
	if strings.HasPrefix(u, "s3://") {
		return "", nil
	}
	p := strings.TrimPrefix(u, "file://")
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.Repo.Root, p)
	}
	if c.T.Engine == Kubernetes {
		for _, v := range c.T.Volumes {
			if p == v.Path || strings.HasPrefix(p, strings.TrimSuffix(v.Path, "/")+"/") {
				return p, nil
			}
		}
		return p, []string{fmt.Sprintf("remote %s is a folder on this machine (%s), which a pod cannot reach: use an S3 remote (compute.%s.remote), or mount the folder's volume at that path (compute.%s.volumes)", c.RemoteName, p, c.Target, c.Target)}
	}
	return p, nil // Slurm: a shared filesystem is the norm
}

// missingInputs names the inputs whose data the remote lacks.
func (c *Client) missingInputs(ctx context.Context, inputs []lineage.IO) []string {
	if len(inputs) == 0 {
		return nil
	}
	ridx, err := c.Sync.LoadIndex(ctx)
	if err != nil {
		return []string{fmt.Sprintf("remote %s: %v", c.RemoteName, err)}
	}
	var missing []string
	for _, in := range inputs {
		n, _, err := c.Sync.Missing(ctx, ridx, []objects.ID{in.Data})
		if err != nil {
			return append(missing, err.Error())
		}
		if n > 0 {
			missing = append(missing, fmt.Sprintf("input %s is not on remote %s (dv push -r %s first)", in.Path, c.RemoteName, c.RemoteName))
		}
	}
	return missing
}

// Follow polls the job until it ends (streaming its log to c.Log), then
// collects its run. A job past its timeout is cancelled and recorded
// failed. An engine that does not answer (its controller unreachable, an
// auth plugin failing) is asked again, less and less often, until the
// job's timeout; then Follow returns the error and the job stays
// unrecorded, to follow later. Interrupted, it leaves the job running.
func (c *Client) Follow(ctx context.Context, j *Job) (*train.RunResult, error) {
	eng := c.engine()
	var off int64
	last := ""
	wait := c.T.PollInterval()
	for {
		st, err := eng.State(ctx, j)
		if err != nil {
			var te *ToolError
			if errors.As(err, &te) || ctx.Err() != nil || c.Rec.Now().Sub(j.Submitted) > j.Timeout {
				return nil, fmt.Errorf("job %s: %w (not recorded; dv runs --follow %s asks again)", j.Ref(), err, j.Ref())
			}
			if wait == c.T.PollInterval() {
				c.note("%s: no answer about job %s (%v); asking again\n", j.Name, j.Ref(), err)
			}
			wait = min(2*wait, maxBackoff)
			if err := sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("job %s still %s; follow it with dv runs --follow %s: %w", j.Ref(), j.State, j.Ref(), err)
			}
			continue
		}
		wait = c.T.PollInterval()
		if st.Node != "" {
			j.Node = st.Node
		}
		if st.Pod != "" {
			j.Pod = st.Pod
		}
		off = c.stream(ctx, eng, j, off)
		if st.State != last {
			last, j.State = st.State, st.State
			if err := j.save(c.Repo.Dir); err != nil {
				return nil, err
			}
		}
		if st.Final {
			if st.Stop {
				_ = eng.Cancel(ctx, j)
			}
			off = c.stream(ctx, eng, j, off)
			return c.collect(ctx, j, st)
		}
		if c.Rec.Now().Sub(j.Submitted) > j.Timeout {
			c.note("%s: job %s ran past its timeout (%s); cancelling it\n", j.Name, j.Ref(), j.Timeout)
			if err := eng.Cancel(ctx, j); err != nil {
				// Recorded failed only once nothing of it runs any more.
				if st, serr := eng.State(ctx, j); serr != nil || !st.Final {
					return nil, fmt.Errorf("job %s ran past its timeout and could not be cancelled: %w (not recorded; dv runs --cancel %s)", j.Ref(), err, j.Ref())
				}
			}
			st, _ := c.waitFinal(ctx, eng, j)
			return c.collect(ctx, j, JobState{State: StateTimeout, Final: true, ExitCode: st.ExitCode, Node: st.Node,
				Reason: fmt.Sprintf("timed out after %s (compute.%s.timeout)", j.Timeout, j.Target)})
		}
		if err := sleep(ctx, c.T.PollInterval()); err != nil {
			return nil, fmt.Errorf("job %s still %s; follow it with dv runs --follow %s: %w", j.Ref(), j.State, j.Ref(), err)
		}
	}
}

// maxBackoff bounds the wait between questions to an engine that does not
// answer.
const maxBackoff = time.Minute

// sleep waits d, or until ctx ends (its error).
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (c *Client) stream(ctx context.Context, eng engine, j *Job, off int64) int64 {
	if c.Log == nil {
		return off
	}
	b, err := eng.Log(ctx, j, off)
	if err != nil || len(b) == 0 {
		return off
	}
	c.Log.Write(b)
	return off + int64(len(b))
}

// waitFinal waits (a bounded while) for a cancelled job to end, and
// returns its last state.
func (c *Client) waitFinal(ctx context.Context, eng engine, j *Job) (JobState, error) {
	var st JobState
	for range 60 {
		var err error
		st, err = eng.State(ctx, j)
		if err != nil || st.Final {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return st, nil
}

// Cancel stops a job (dv runs --cancel) and records its run failed, unless
// it recorded its run first.
func (c *Client) Cancel(ctx context.Context, j *Job) (*train.RunResult, error) {
	if j.Done() {
		return nil, fmt.Errorf("job %s already ended: run %s %s", j.Ref(), j.Run.Short(), j.Status)
	}
	eng := c.engine()
	if err := eng.Cancel(ctx, j); err != nil {
		return nil, fmt.Errorf("cancel job %s: %w", j.Ref(), err)
	}
	st, err := c.waitFinal(ctx, eng, j)
	if err != nil {
		return nil, err
	}
	return c.collect(ctx, j, JobState{State: StateCancelled, Final: true, ExitCode: st.ExitCode, Node: st.Node, Reason: "cancelled (dv runs --cancel)"})
}

// readRemoteRef reads one ref on the remote (zero id when absent).
func readRemoteRef(ctx context.Context, s *remote.Syncer, name string) (objects.ID, error) {
	b, err := remote.ReadAll(ctx, s.Remote, remote.RefsPrefix+name)
	if errors.Is(err, remote.ErrNotFound) {
		return objects.ID{}, nil
	}
	if err != nil {
		return objects.ID{}, fmt.Errorf("ref %s on the remote: %w", name, err)
	}
	id, err := objects.ParseID(string(bytes.TrimSpace(b)))
	if err != nil {
		return objects.ID{}, fmt.Errorf("ref %s on the remote: %w", name, err)
	}
	return id, nil
}

// uncommittedCode names the code the job's clone would lack: tracked
// files changed since the commit (pointer files, .gitignore files and the
// run's outputs are not code) and files on the command line git does not
// track.
func uncommittedCode(ctx context.Context, root string, o train.RunOptions, commit string) []string {
	skip := map[string]bool{}
	for _, p := range o.Outs {
		skip[p] = true
	}
	if o.Model != nil {
		skip[o.Model.MetricsFile] = true
	}
	var changed []string
	cmd := exec.CommandContext(ctx, "git", "status", "--porcelain=v1", "--untracked-files=no", "--no-renames")
	cmd.Dir = root
	if b, err := cmd.Output(); err == nil {
		out := string(b)
		for _, line := range strings.Split(out, "\n") {
			if len(line) < 4 {
				continue
			}
			p := strings.Trim(line[3:], `"`)
			if strings.HasSuffix(p, pointer.Ext) || filepath.Base(p) == ".gitignore" || skip[p] {
				continue
			}
			changed = append(changed, p)
		}
	}
	var missing []string
	if len(changed) > 0 {
		missing = append(missing, fmt.Sprintf("uncommitted changes in %s (the job runs commit %.12s: commit and git push them)", strings.Join(changed, ", "), commit))
	}
	for _, a := range o.Command {
		if filepath.IsAbs(a) || strings.HasPrefix(a, "-") {
			continue
		}
		if fi, err := os.Stat(filepath.Join(root, a)); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if _, err := gitOut(ctx, root, "ls-files", "--error-unmatch", "--", a); err != nil {
			missing = append(missing, fmt.Sprintf("%s is not committed to git (the job's clone would not have it)", a))
		}
	}
	return missing
}
