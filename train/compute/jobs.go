package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

// JobsDir is where dv keeps the jobs it submitted, under .dv:
// jobs/TARGET/ID.json.
const JobsDir = "jobs"

// Job is a run submitted to a compute engine, as the submitting project
// tracks it until its run is recorded.
type Job struct {
	Target    string        `json:"target"`
	Engine    string        `json:"engine"`
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Spec      *Spec         `json:"spec"`
	Inputs    []lineage.IO  `json:"inputs,omitempty"` // pinned when submitted
	Output    string        `json:"output,omitempty"` // Slurm: the log file (%j is the job id)
	Context   string        `json:"context,omitempty"`
	Namespace string        `json:"namespace,omitempty"`
	Submitted time.Time     `json:"submitted"`
	Timeout   time.Duration `json:"timeout"`
	State     string        `json:"state"`            // the engine's last known state
	Node      string        `json:"node,omitempty"`   // where it ran, once known
	Pod       string        `json:"pod,omitempty"`    // Kubernetes: its newest pod, once known
	Status    string        `json:"status,omitempty"` // succeeded or failed, once its run is recorded
	Run       objects.ID    `json:"run,omitzero"`     // the run recorded for it
	Reason    string        `json:"reason,omitempty"`
}

// Ref is the job's name for dv runs --follow and --cancel: TARGET/ID.
func (j *Job) Ref() string { return j.Target + "/" + j.ID }

// Done says whether the job's run is recorded.
func (j *Job) Done() bool { return j.Status != "" }

func jobPath(dvDir, target, id string) string {
	return filepath.Join(dvDir, JobsDir, target, id+".json")
}

// save writes the job's file atomically.
func (j *Job) save(dvDir string) error {
	p := jobPath(dvDir, j.Target, j.ID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return objects.WriteFileAtomic(p, append(b, '\n'), 0o644)
}

// ListJobs returns the jobs this project submitted, newest first.
func ListJobs(dvDir string) ([]*Job, error) {
	var out []*Job
	root := filepath.Join(dvDir, JobsDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		j, err := readJob(p)
		if err != nil {
			return err
		}
		out = append(out, j)
		return nil
	})
	sort.SliceStable(out, func(a, b int) bool { return out[a].Submitted.After(out[b].Submitted) })
	return out, err
}

func readJob(p string) (*Job, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil || j.Spec == nil || j.ID == "" {
		return nil, fmt.Errorf("%s: not a dv job file", p)
	}
	return &j, nil
}

// FindJob finds a submitted job by TARGET/ID, by ID alone, or by run
// name (its newest job).
func FindJob(dvDir, name string) (*Job, error) {
	jobs, err := ListJobs(dvDir)
	if err != nil {
		return nil, err
	}
	var found []*Job
	for _, j := range jobs {
		if j.Ref() == name || j.ID == name {
			found = append(found, j)
		}
	}
	if len(found) == 0 {
		for _, j := range jobs {
			if j.Name == name {
				return j, nil // newest first
			}
		}
		return nil, fmt.Errorf("no submitted job %s (dv runs lists them)", name)
	}
	if len(found) > 1 {
		return nil, fmt.Errorf("job id %s is on several targets; name it TARGET/ID", name)
	}
	return found[0], nil
}

// Refresh asks the engine for a job's state (best effort: the last known
// state stays when the engine does not answer).
func Refresh(ctx context.Context, j *Job) {
	var eng engine = slurm{}
	if j.Engine == Kubernetes {
		eng = kube{}
	}
	if st, err := eng.State(ctx, j); err == nil && !st.Final {
		j.State = st.State
	} else if err == nil {
		j.State = "ended (" + st.State + "); dv runs --follow " + j.Ref() + " records it"
	}
}
