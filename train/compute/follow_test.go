package compute

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/mem"
	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/traintest"
)

// fakeTools puts shell scripts named after the engine's commands first on
// PATH.
func fakeTools(t *testing.T, scripts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Only the engine's definite answer makes a job lost; any other failure
// to answer is an error the caller retries.
func TestStateLostOnlyOnDefiniteAnswer(t *testing.T) {
	ctx := t.Context()
	j := &Job{ID: "4711"}
	fakeTools(t, map[string]string{
		"scontrol": "echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2; exit 1\n",
		"sacct":    "echo 'sacct: error: Problem talking to the database: Connection refused' >&2; exit 1\n",
	})
	if st, err := (slurm{}).State(ctx, j); err == nil {
		t.Fatalf("slurm unreachable: state %+v, want an error", st)
	}
	fakeTools(t, map[string]string{
		"scontrol": "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n",
		"sacct":    "echo 'Slurm accounting storage is disabled' >&2; exit 1\n",
	})
	if st, err := (slurm{}).State(ctx, j); err != nil || st.State != StateLost || !st.Final {
		t.Fatalf("slurm forgot the job: %+v, %v; want lost", st, err)
	}
	fakeTools(t, map[string]string{
		"scontrol": "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1\n",
		"sacct":    "echo 'COMPLETED|0:0|node7'\n",
	})
	if st, err := (slurm{}).State(ctx, j); err != nil || st.State != StateSucceeded || st.Node != "node7" {
		t.Fatalf("accounting knows the job: %+v, %v; want succeeded on node7", st, err)
	}

	k := &Job{ID: "dv-crop-0123abcd"}
	for _, msg := range []string{
		`Unable to connect to the server: getting credentials: exec: executable gke-gcloud-auth-plugin not found`,
		`Error from server (NotFound): the server could not find the requested resource`,
		`Error from server (NotFound): jobs.batch "dv-crop-ffffffff" not found`,
	} {
		fakeTools(t, map[string]string{"kubectl": "echo '" + msg + "' >&2; exit 1\n"})
		if st, err := (kube{}).State(ctx, k); err == nil {
			t.Fatalf("kubectl %q: state %+v, want an error", msg, st)
		}
	}
	fakeTools(t, map[string]string{"kubectl": `echo 'Error from server (NotFound): jobs.batch "dv-crop-0123abcd" not found' >&2; exit 1` + "\n"})
	if st, err := (kube{}).State(ctx, k); err != nil || st.State != StateLost || !st.Final {
		t.Fatalf("the Job is gone: %+v, %v; want lost", st, err)
	}
	k.Namespace = "ml"
	fakeTools(t, map[string]string{"kubectl": `echo 'Error from server (NotFound): namespaces "ml" not found' >&2; exit 1` + "\n"})
	if st, err := (kube{}).State(ctx, k); err != nil || st.State != StateLost {
		t.Fatalf("the namespace is gone: %+v, %v; want lost", st, err)
	}
}

// fakeEngine answers State from a script of answers (the last repeats).
type fakeEngine struct {
	mu        sync.Mutex
	answers   []func() (JobState, error)
	calls     int
	cancelled int
}

func (f *fakeEngine) Submit(context.Context, *Job, []byte) (string, error) { return "1", nil }
func (f *fakeEngine) Log(context.Context, *Job, int64) ([]byte, error)     { return nil, nil }
func (f *fakeEngine) Cancel(context.Context, *Job) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled++
	return nil
}

func (f *fakeEngine) State(context.Context, *Job) (JobState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.answers[min(f.calls, len(f.answers)-1)]
	f.calls++
	return a()
}

func noAnswer() (JobState, error) {
	return JobState{}, errors.New("scontrol: Unable to contact slurm controller")
}

func testClient(t *testing.T, eng engine) (*Client, *Job, remote.Store) {
	t.Helper()
	p := traintest.New(t, traintest.Options{})
	rem := mem.New()
	c := &Client{Repo: p.Repo, Rec: p.Rec, Target: "gpu", T: Target{Engine: Slurm, Poll: "1ms"}, eng: eng,
		Sync: &remote.Syncer{Local: p.Repo.Store, Remote: rem, Jobs: 2, CacheDir: filepath.Join(p.Repo.Dir, "remotes", "x")}}
	spec := &Spec{Version: SpecVersion, Target: "gpu", Engine: Slurm, Name: "crop", Command: []string{"sh", "train.sh"}}
	j := &Job{Target: "gpu", Engine: Slurm, ID: "4711", Name: "crop", Spec: spec, Submitted: time.Now(), Timeout: time.Hour}
	return c, j, rem
}

// An engine that does not answer for a while is asked again: the job is
// not recorded lost, and its real end is what gets recorded.
func TestFollowRetriesNoAnswer(t *testing.T) {
	eng := &fakeEngine{answers: []func() (JobState, error){noAnswer, noAnswer, noAnswer,
		func() (JobState, error) { return JobState{State: StateCancelled, Final: true}, nil }}}
	c, j, _ := testClient(t, eng)
	var notes strings.Builder
	c.Notes = &notes
	res, err := c.Follow(t.Context(), j)
	if eng.calls != 4 {
		t.Fatalf("State asked %d times, want 4", eng.calls)
	}
	if res == nil || res.Status != train.StatusFailed || j.Reason != "job 4711 on gpu: cancelled" {
		t.Fatalf("got %+v, %v, reason %q; want the cancelled run recorded", res, err, j.Reason)
	}
	if strings.Count(notes.String(), "no answer about job gpu/4711") != 1 {
		t.Fatalf("notes: %q", notes.String())
	}
}

// Past the job's timeout, an engine that still does not answer ends
// Follow with the error; nothing is recorded.
func TestFollowGivesUpUnrecorded(t *testing.T) {
	eng := &fakeEngine{answers: []func() (JobState, error){noAnswer}}
	c, j, _ := testClient(t, eng)
	j.Timeout = 20 * time.Millisecond
	res, err := c.Follow(t.Context(), j)
	if err == nil || !strings.Contains(err.Error(), "Unable to contact slurm controller") || res != nil {
		t.Fatalf("got %+v, %v; want the engine's error", res, err)
	}
	if j.Done() || eng.cancelled != 0 {
		t.Fatalf("job recorded (%q) or cancelled (%d)", j.Status, eng.cancelled)
	}
}

// A job the engine calls lost is cancelled, and when it recorded its run
// after all (the remote's jobs/TARGET/ID), that run is what is collected.
func TestRecordLostCollectsALateRun(t *testing.T) {
	eng := &fakeEngine{answers: []func() (JobState, error){
		func() (JobState, error) {
			return JobState{State: StateLost, Final: true, Reason: "slurm: NODE_FAIL"}, nil
		}}}
	c, j, rem := testClient(t, eng)
	w := clone(t, rem)
	id, err := w.Rec.Write(t.Context(), &lineage.Record{Type: lineage.TypeRun, Name: "crop", Command: []string{"sh"},
		Status: train.StatusFailed, ExitCode: 2, Reason: "sh exited with status 2"}, "runs/crop")
	if err != nil {
		t.Fatal(err)
	}
	// Not yet on the remote when collect first looks: pushed as the job
	// is cancelled.
	c.eng = &pushOnCancel{fakeEngine: eng, push: func() error {
		if _, err := w.push(t.Context(), &train.RunResult{Run: id}); err != nil {
			return err
		}
		return w.markRecorded(t.Context(), JobRef("gpu", "4711"), id)
	}}
	res, err := c.collect(t.Context(), j, JobState{State: StateLost, Final: true, Reason: "slurm: NODE_FAIL"})
	var fe *train.FailedError
	if !errors.As(err, &fe) || res == nil || res.Run != id || res.ExitCode != 2 {
		t.Fatalf("got %+v, %v; want the job's own failed run %s", res, err, id.Short())
	}
	if eng.cancelled != 1 {
		t.Fatalf("cancelled %d times, want 1", eng.cancelled)
	}
}

type pushOnCancel struct {
	*fakeEngine
	push func() error
}

func (p *pushOnCancel) Cancel(ctx context.Context, j *Job) error {
	_ = p.fakeEngine.Cancel(ctx, j)
	return p.push()
}

// A ref that moved here since the last fetch keeps its value, and collect
// says so instead of reporting the job's run as here.
func TestCollectNamesDivergedRefs(t *testing.T) {
	eng := &fakeEngine{answers: []func() (JobState, error){noAnswer}}
	c, j, rem := testClient(t, eng)
	if _, err := c.Rec.Write(t.Context(), &lineage.Record{Type: lineage.TypeRun, Name: "crop", Command: []string{"local"},
		Status: train.StatusSucceeded}, "runs/crop"); err != nil {
		t.Fatal(err)
	}
	w := clone(t, rem)
	id, err := w.Rec.Write(t.Context(), &lineage.Record{Type: lineage.TypeRun, Name: "crop", Command: []string{"job"},
		Status: train.StatusFailed, ExitCode: 1}, "runs/crop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.push(t.Context(), &train.RunResult{Run: id}); err != nil {
		t.Fatal(err)
	}
	if err := w.markRecorded(t.Context(), JobRef("gpu", "4711"), id); err != nil {
		t.Fatal(err)
	}
	res, err := c.collect(t.Context(), j, JobState{State: StateSucceeded, Final: true})
	if err == nil || res != nil || !strings.Contains(err.Error(), "but runs/crop moved here since your last fetch and was kept") {
		t.Fatalf("got %+v, %v; want the kept ref named", res, err)
	}
	if !j.Done() || j.Run != id {
		t.Fatalf("job not marked collected: %+v", j)
	}
}

// The log of a Kubernetes job is fetched from the second of the last line
// read, each line returned once; a new pod (a retry) is read from its start.
func TestKubeLogFollowsThePod(t *testing.T) {
	fakeTools(t, map[string]string{"kubectl": `case "$*" in
*pod/p2*) printf '2026-01-01T00:00:09.000000000Z b1\n' ;;
*--since-time=2026-01-01T00:00:01Z*) printf '2026-01-01T00:00:01.500000000Z a2\n2026-01-01T00:00:01.500000000Z a2b\n2026-01-01T00:00:02.000000000Z a3\n' ;;
*--since-time*) echo "unexpected: $*" >&2; exit 1 ;;
*) printf '2026-01-01T00:00:01.000000000Z a1\n2026-01-01T00:00:01.500000000Z a2\n' ;;
esac
`})
	ctx := t.Context()
	k := kube{cur: &kubeCursor{}}
	j := &Job{ID: "x"}
	var off int64
	for i, step := range []struct{ pod, want string }{
		{"", "a1\na2\n"},    // job/x: kubectl picks the pod
		{"p1", "a2b\na3\n"}, // the same pod, named: from 00:00:01
		{"p2", "b1\n"},      // a retry's pod: from its start
		{"p2", ""},          // nothing new
	} {
		j.Pod = step.pod
		b, err := k.Log(ctx, j, off)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != step.want {
			t.Fatalf("step %d: log %q, want %q", i, b, step.want)
		}
		off += int64(len(b))
	}
	// From the start (a failed job's whole log, for its record).
	if b, _ := (kube{}).Log(ctx, &Job{ID: "x", Pod: "p2"}, 0); string(b) != "b1\n" {
		t.Fatalf("whole log %q", b)
	}
}
