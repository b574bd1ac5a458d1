package train

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// RunInfo is one recorded run, as dv runs lists it.
type RunInfo struct {
	ID       objects.ID         `json:"id,omitzero"` // zero for a job whose run is not recorded yet
	Name     string             `json:"name"`
	Status   string             `json:"status"`
	ExitCode int                `json:"exit_code"`
	Start    time.Time          `json:"start"`
	End      time.Time          `json:"end"`
	Seconds  float64            `json:"duration_seconds"`
	Command  []string           `json:"command"`
	Params   map[string]string  `json:"params,omitempty"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	Inputs   []lineage.IO       `json:"inputs,omitempty"`
	Outputs  []lineage.IO       `json:"outputs,omitempty"`
	Commit   string             `json:"commit"`
	Dirty    bool               `json:"dirty,omitempty"`
	Log      objects.ID         `json:"log,omitzero"`
	CacheKey string             `json:"cache_key,omitempty"`
	CodeTree string             `json:"code_tree,omitempty"`
	Env      *lineage.Env       `json:"env,omitempty"`
	Who      lineage.Person     `json:"who"`
	Job      *lineage.Job       `json:"job,omitempty"`    // where it ran, for a run submitted with --on
	Reason   string             `json:"reason,omitempty"` // why a failed run failed, when not its exit code
}

// Duration is how long the run's command ran.
func (ri *RunInfo) Duration() time.Duration { return ri.End.Sub(ri.Start) }

// ListRuns returns the runs recorded under refs runs/* (only runs/NAME
// when name is set), following each ref's chain of previous runs, newest
// first.
func ListRuns(ctx context.Context, s *objects.Store, rs *refs.Store, name string) ([]RunInfo, error) {
	names, ids, err := rs.List()
	if err != nil {
		return nil, err
	}
	want := ""
	if name != "" {
		want = lineage.RefFor(lineage.TypeRun, name)
	}
	var out []RunInfo
	seen := map[objects.ID]bool{}
	for _, ref := range names {
		if !strings.HasPrefix(ref, "runs/") || want != "" && ref != want {
			continue
		}
		for id := ids[ref]; !id.IsZero() && !seen[id]; {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			seen[id] = true
			rec, err := lineage.Load(ctx, s, id)
			if err != nil {
				return nil, fmt.Errorf("%s: run %s: %w", ref, id.Short(), err)
			}
			if rec.Type != lineage.TypeRun {
				break
			}
			out = append(out, infoOf(id, rec))
			id = rec.Previous
		}
	}
	if want != "" && len(out) == 0 {
		return nil, fmt.Errorf("no runs named %s", name)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out, nil
}

func infoOf(id objects.ID, r *lineage.Record) RunInfo {
	ri := RunInfo{ID: id, Name: r.Name, Status: r.Status, ExitCode: r.ExitCode, Start: r.Start, End: r.End,
		Command: r.Command, Params: r.Params, Metrics: r.Metrics, Inputs: r.Inputs, Outputs: r.Outputs,
		Commit: r.Commit, Dirty: r.Dirty, Log: r.Log, CacheKey: r.CacheKey, CodeTree: r.CodeTree, Env: r.Env, Who: r.Who, Job: r.Job, Reason: r.Reason}
	ri.Seconds = ri.Duration().Seconds()
	return ri
}

// RunLog returns the log id of a run record, or of a run's model version
// or metrics record.
func RunLog(ctx context.Context, s *objects.Store, id objects.ID) (objects.ID, error) {
	rec, err := lineage.Load(ctx, s, id)
	if err != nil {
		return objects.ID{}, err
	}
	if rec.Type != lineage.TypeRun && !rec.Run.IsZero() {
		id = rec.Run
		if rec, err = lineage.Load(ctx, s, id); err != nil {
			return objects.ID{}, err
		}
	}
	if rec.Type != lineage.TypeRun {
		return objects.ID{}, fmt.Errorf("%s is a %s record, not a run", id.Short(), rec.Type)
	}
	if rec.Log.IsZero() {
		return objects.ID{}, fmt.Errorf("run %s has no log", id.Short())
	}
	return rec.Log, nil
}
