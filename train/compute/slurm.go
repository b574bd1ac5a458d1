package compute

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Job states, as dv reports them for either engine.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded" // the job's dv exited 0
	StateFailed    = "failed"
	StateCancelled = "cancelled"
	StateTimeout   = "timeout"
	StateLost      = "lost" // node failure, eviction, or the engine no longer knows the job
)

// JobState is what the engine says about a job.
type JobState struct {
	State    string
	Final    bool
	ExitCode int
	Node     string
	Pod      string // Kubernetes: the job's newest pod, once it has one
	Reason   string // the engine's reason, when it gives one
	Stop     bool   // ended for dv, but the engine would keep it: cancel it
}

// engine is how dv drives one kind of cluster.
type engine interface {
	// Submit hands the job to the engine and returns its id.
	Submit(ctx context.Context, j *Job, payload []byte) (string, error)
	State(ctx context.Context, j *Job) (JobState, error)
	// Log returns the job's log from byte offset off (nil when none yet).
	Log(ctx context.Context, j *Job, off int64) ([]byte, error)
	Cancel(ctx context.Context, j *Job) error
}

// ToolError is an engine's command missing from PATH.
type ToolError struct{ Tool, Engine string }

func (e *ToolError) Error() string {
	return fmt.Sprintf("%s not found on PATH: dv drives %s through its own commands (install the client, or run dv where it is)", e.Tool, e.Engine)
}

// RefusedError is an engine that would not take the job.
type RefusedError struct {
	Engine string
	Msg    string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("%s refused the job: %s", e.Engine, e.Msg) }

// run runs a client command and returns its stdout; a failure carries the
// command's first line of stderr.
func run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		eng := Slurm
		if name == "kubectl" {
			eng = Kubernetes
		}
		return nil, &ToolError{Tool: name, Engine: eng}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), &commandError{name: name, msg: msg, err: err}
	}
	return stdout.Bytes(), nil
}

type commandError struct {
	name, msg string
	err       error
}

func (e *commandError) Error() string { return e.name + ": " + e.msg }
func (e *commandError) Unwrap() error { return e.err }

// slurm drives Slurm with sbatch, scontrol, sacct and scancel.
type slurm struct{}

func (slurm) Submit(ctx context.Context, j *Job, script []byte) (string, error) {
	out, err := run(ctx, script, "sbatch", "--parsable")
	var ce *commandError
	if errors.As(err, &ce) {
		return "", &RefusedError{Engine: "slurm", Msg: ce.msg}
	}
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch --parsable printed %q, not a job id", strings.TrimSpace(string(out)))
	}
	return id, nil
}

func (slurm) State(ctx context.Context, j *Job) (JobState, error) {
	out, err := run(ctx, nil, "scontrol", "show", "job", "-o", j.ID)
	if err == nil {
		return parseScontrol(string(out)), nil
	}
	var ce *commandError
	if !errors.As(err, &ce) || !strings.Contains(ce.msg, slurmNoJob) {
		// No answer (the controller unreachable, a timeout): the job may
		// well be running. The caller asks again.
		return JobState{}, err
	}
	// Gone from the controller's memory (MinJobAge): ask accounting when
	// there is one.
	if acct, aerr := run(ctx, nil, "sacct", "-n", "-P", "-X", "-j", j.ID, "-o", "State,ExitCode,NodeList"); aerr == nil {
		if st, ok := parseSacct(string(acct)); ok {
			return st, nil
		}
	}
	return JobState{State: StateLost, Final: true, Reason: "slurm no longer knows job " + j.ID}, nil
}

// slurmNoJob is scontrol's answer for a job the controller does not know
// (slurm_load_jobs error: Invalid job id specified): the one answer that
// makes a job lost.
const slurmNoJob = "Invalid job id specified"

// parseScontrol reads `scontrol show job -o` output.
func parseScontrol(s string) JobState {
	f := map[string]string{}
	for _, w := range strings.Fields(s) {
		if k, v, ok := strings.Cut(w, "="); ok {
			f[k] = v
		}
	}
	st := slurmState(f["JobState"])
	st.ExitCode = slurmExit(f["ExitCode"])
	if n := f["BatchHost"]; n != "" && n != "(null)" {
		st.Node = n
	} else if n := f["NodeList"]; n != "(null)" {
		st.Node = n
	}
	if r := f["Reason"]; r != "None" && r != "(null)" {
		st.Reason = r
	}
	return st
}

// parseSacct reads `sacct -n -P -X -o State,ExitCode,NodeList`.
func parseSacct(s string) (JobState, bool) {
	line := strings.TrimSpace(strings.SplitN(strings.TrimSpace(s), "\n", 2)[0])
	p := strings.Split(line, "|")
	if len(p) < 3 || p[0] == "" {
		return JobState{}, false
	}
	st := slurmState(strings.Fields(p[0])[0])
	st.ExitCode, st.Node = slurmExit(p[1]), p[2]
	return st, true
}

func slurmState(s string) JobState {
	switch s {
	case "PENDING", "CONFIGURING", "REQUEUED", "RESV_DEL_HOLD", "REQUEUE_HOLD", "SUSPENDED", "":
		return JobState{State: StatePending}
	case "RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING":
		return JobState{State: StateRunning}
	case "COMPLETED":
		return JobState{State: StateSucceeded, Final: true}
	case "CANCELLED":
		return JobState{State: StateCancelled, Final: true}
	case "TIMEOUT", "DEADLINE":
		return JobState{State: StateTimeout, Final: true, Reason: "slurm stopped it: " + s}
	case "FAILED", "OUT_OF_MEMORY":
		return JobState{State: StateFailed, Final: true, Reason: s}
	default: // NODE_FAIL, BOOT_FAIL, PREEMPTED, REVOKED, SPECIAL_EXIT
		return JobState{State: StateLost, Final: true, Reason: "slurm: " + s}
	}
}

// slurmExit reads "code:signal".
func slurmExit(s string) int {
	c, sig, _ := strings.Cut(s, ":")
	code, _ := strconv.Atoi(c)
	if n, _ := strconv.Atoi(sig); n > 0 && code == 0 {
		return 128 + n
	}
	return code
}

func (slurm) Log(_ context.Context, j *Job, off int64) ([]byte, error) {
	f, err := os.Open(strings.ReplaceAll(j.Output, "%j", j.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

func (slurm) Cancel(ctx context.Context, j *Job) error {
	_, err := run(ctx, nil, "scancel", j.ID)
	return err
}
