package compute

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/train"
)

// SpecVersion is the version of the job spec this code writes and reads.
const SpecVersion = 1

// Spec is what a job's dv job runs: the run's options, the commit to run
// them at, the cache key the submitter computed, and the remote to pull
// from and push to. It travels base64-encoded on dv job's command line.
type Spec struct {
	Version int               `json:"version"`
	Target  string            `json:"target"`
	Engine  string            `json:"engine"`
	Name    string            `json:"name"`
	Command []string          `json:"command"`
	Deps    []string          `json:"deps,omitempty"`
	Outs    []string          `json:"outs,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Model   *ModelSpec        `json:"model,omitempty"`
	// Parents and Meta go on the run record (dv retrain: the run it
	// repeats and why).
	Parents   []objects.ID      `json:"parents,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	Commit    string            `json:"commit"`
	CacheKey  string            `json:"cache_key"`
	Remote    string            `json:"remote"`               // the remote's name in dv.yaml
	RemoteURL string            `json:"remote_url,omitempty"` // a folder remote's absolute path
}

// ModelSpec is the model output of a training run.
type ModelSpec struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	MetricsFile string `json:"metrics_file,omitempty"`
}

// specOf describes run o for a job.
func specOf(target string, t Target, o train.RunOptions, commit, key, remoteName, remoteURL string) *Spec {
	s := &Spec{Version: SpecVersion, Target: target, Engine: t.Engine, Name: o.Name, Command: o.Command,
		Deps: o.Deps, Outs: o.Outs, Params: o.Params, Parents: o.Parents, Meta: o.Meta, Commit: commit, CacheKey: key,
		Remote: remoteName, RemoteURL: remoteURL}
	if o.Model != nil {
		s.Model = &ModelSpec{Name: o.Model.Name, Path: o.Model.Path, MetricsFile: o.Model.MetricsFile}
	}
	return s
}

// RunOptions returns the run the spec describes.
func (s *Spec) RunOptions() train.RunOptions {
	o := train.RunOptions{Name: s.Name, Command: s.Command, Deps: s.Deps, Outs: s.Outs, Params: s.Params,
		Parents: s.Parents, Meta: s.Meta}
	if s.Model != nil {
		o.Model = &train.ModelOptions{Name: s.Model.Name, Path: s.Model.Path, MetricsFile: s.Model.MetricsFile}
	}
	return o
}

// Encode returns the spec as base64 of its JSON (safe in a shell word).
func (s *Spec) Encode() string {
	b, _ := json.Marshal(s) // a struct of strings, maps and slices: cannot fail
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeSpec reads what Encode wrote.
func DecodeSpec(s string) (*Spec, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	var sp Spec
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	if sp.Version != SpecVersion {
		return nil, fmt.Errorf("job spec: version %d, this dv reads %d (use the same dv on the cluster)", sp.Version, SpecVersion)
	}
	if sp.Name == "" || len(sp.Command) == 0 || sp.Target == "" {
		return nil, fmt.Errorf("job spec: no name, command or target")
	}
	return &sp, nil
}

// JobRef is the ref a job points at the run it recorded, so that the
// submitter finds it: jobs/TARGET/ID.
func JobRef(target, id string) string { return "jobs/" + target + "/" + id }
