package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/registry"
)

// Meta keys of a run made by dv retrain.
const (
	MetaRetrainOf     = "retrain.of"     // the id of the run it repeats
	MetaRetrainReason = "retrain.reason" // why: "KIND: detail", joined by "; "
)

// RetrainOptions describe dv retrain.
type RetrainOptions struct {
	Model          string            // MODEL
	Alias          string            // whose holder to re-run; "": promotion.alias (production) if the model has it, else its latest version
	Params         map[string]string // override the recorded params
	Force          bool              // run even when the run cache holds the result
	Stdout, Stderr io.Writer
	Versions       map[string]string
}

// RetrainResult is what dv retrain did: the holder whose run it repeated,
// why, and the new run (a candidate for dv promote).
type RetrainResult struct {
	Holder  *Holder          `json:"holder"`
	OldRun  objects.ID       `json:"old_run"`
	Reasons []Reason         `json:"reasons"`
	Run     *train.RunResult `json:"run"`
	Number  int              `json:"number,omitempty"` // the new model version's number (v4), when known

	// Options repeat the old run (PlanRetrain).
	Options train.RunOptions `json:"-"`
}

// ErrNoRun is a model version that no recorded run made.
var ErrNoRun = errors.New("no recorded run")

// Retrain re-runs the recorded run of the model version o names (see
// PlanRetrain) with rn, and numbers the candidate it made.
func Retrain(ctx context.Context, rn *train.Runner, cfg *workspace.Config, o RetrainOptions) (*RetrainResult, error) {
	res, err := PlanRetrain(ctx, rn.Repo, rn.Rec.Refs, cfg, o)
	if err != nil {
		return nil, err
	}
	res.Run, err = rn.Run(ctx, res.Options)
	if err == nil && !res.Run.Model.IsZero() {
		if v, lerr := lineage.Load(ctx, rn.Repo.Store, res.Run.Model); lerr == nil {
			res.Number = v.Number
		}
	}
	return res, err
}

// PlanRetrain finds the model version o names and the run that made it,
// and returns the options that repeat it (res.Options): the same command,
// params (o.Params override) and input paths, whose data must be the
// newest versions (their refs'), with the old run and the records of the
// reasons the version is stale as more parents, and Meta retrain.of and
// retrain.reason. It runs nothing: Retrain runs it here, dv retrain --on
// on a compute target.
func PlanRetrain(ctx context.Context, r *workspace.Repo, rs *refs.Store, cfg *workspace.Config, o RetrainOptions) (*RetrainResult, error) {
	s := r.Store
	h, err := retrainHolder(ctx, r, rs, cfg, o)
	if err != nil {
		return nil, err
	}
	if h.Record.Run.IsZero() {
		return nil, fmt.Errorf("%s (version %s) was not made by dv train: %w to repeat", h.Label(), h.Short(), ErrNoRun)
	}
	old, err := lineage.Load(ctx, s, h.Record.Run)
	if err != nil {
		return nil, fmt.Errorf("%s: run %s: %w", h.Label(), h.Record.Run.Short(), err)
	}
	if old.Type != lineage.TypeRun {
		return nil, fmt.Errorf("%s: %s is a %s record: %w", h.Label(), h.Record.Run.Short(), old.Type, ErrNoRun)
	}
	st, err := loadState(ctx, s, rs, cfg)
	if err != nil {
		return nil, err
	}
	res := &RetrainResult{Holder: h, OldRun: h.Record.Run}
	res.Reasons = st.check(h, Policy{On: AllReasons})
	ro := runOptions(o, old, h)
	if err := newestInputs(ctx, r, st, ro.Deps); err != nil {
		return nil, err
	}
	ro.Parents = []objects.ID{h.Record.Run}
	var why []string
	for _, r := range res.Reasons {
		ro.Parents = append(ro.Parents, r.Record)
		why = append(why, r.Kind+": "+r.Detail)
	}
	if len(why) == 0 {
		why = []string{"requested: no reason found (dv status --stale)"}
	}
	ro.Meta = map[string]string{MetaRetrainOf: h.Record.Run.String(), MetaRetrainReason: strings.Join(why, "; ")}
	res.Options = ro
	return res, nil
}

// retrainHolder finds the version to re-run.
func retrainHolder(ctx context.Context, r *workspace.Repo, rs *refs.Store, cfg *workspace.Config, o RetrainOptions) (*Holder, error) {
	if strings.Contains(o.Model, "@") {
		return nil, fmt.Errorf("%s: name the model alone and the alias with --alias", o.Model)
	}
	if o.Alias != "" {
		return ResolveModel(ctx, r, rs, o.Model+"@"+o.Alias)
	}
	alias := DefaultAlias(cfg)
	if hd, err := registry.HolderOf(ctx, r.Store, rs, o.Model, alias); err != nil {
		return nil, err
	} else if !hd.Version.IsZero() {
		return ResolveModel(ctx, r, rs, o.Model+"@"+alias)
	}
	h, err := ResolveModel(ctx, r, rs, o.Model)
	if err == nil && h.Model != o.Model {
		return nil, fmt.Errorf("%s: not a model name: %w", o.Model, ErrNotModel)
	}
	return h, err
}

// runOptions repeats the old run: command, params, inputs, outputs.
func runOptions(o RetrainOptions, old *lineage.Record, h *Holder) train.RunOptions {
	ro := train.RunOptions{Name: old.Name, Command: old.Command, Params: maps.Clone(old.Params), Force: o.Force,
		Stdout: o.Stdout, Stderr: o.Stderr, Versions: o.Versions,
		Model: &train.ModelOptions{Name: h.Model, Path: h.Record.Path}}
	if ro.Params == nil && len(o.Params) > 0 {
		ro.Params = map[string]string{}
	}
	maps.Copy(ro.Params, o.Params)
	for _, in := range old.Inputs {
		ro.Deps = append(ro.Deps, in.Path)
	}
	for _, out := range old.Outputs {
		if slices.Contains(old.Objects, out.Data) && out.Path != h.Record.Path {
			ro.Model.MetricsFile = out.Path // the run holds its metrics file, not its outputs
			continue
		}
		ro.Outs = append(ro.Outs, out.Path)
	}
	return ro
}

// newestInputs refuses an input whose work tree holds older data than
// its ref names (the ref moved, the pointer file did not follow).
func newestInputs(ctx context.Context, r *workspace.Repo, st *state, deps []string) error {
	ins, err := train.CheckInputs(ctx, r, deps)
	if err != nil {
		return err
	}
	for _, in := range ins {
		have, cur, ref, ok := st.newest(in.Record)
		if ok && cur.ID != have.ID && cur.Data != have.Data && inChain(st.g, cur.ID, have.ID) {
			return fmt.Errorf("input %s: the work tree holds version %s but %s names the newer %s; check out the commit whose pointer names it (git pull, then dv checkout %s)",
				in.Path, have.ID.Short(), ref, cur.ID.Short(), have.Path)
		}
	}
	return nil
}
