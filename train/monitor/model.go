// Package monitor watches models after training: production metrics
// recorded on a model version (dv metrics log), stale models (dv status
// --stale: newer data, a drift check that drifted, or production metrics
// past a promotion threshold; the retrain: policy picks which count), and
// dv retrain, which runs the alias holder's recorded run again with the
// newest versions of its inputs through train.Runner. It imports objects,
// objects/workspace, refs, lineage and train; cmd prints what it returns.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train/registry"
)

// Holder is one model version named by a user or held by an alias.
type Holder struct {
	Model   string          `json:"model"`
	Alias   string          `json:"alias,omitempty"` // "" when the version was named without an alias
	Version objects.ID      `json:"version"`
	Number  int             `json:"number,omitempty"` // vN, when known
	Record  *lineage.Record `json:"-"`
}

// Label is how output names the holder: crop@production, or crop.
func (h *Holder) Label() string {
	if h.Alias != "" {
		return h.Model + "@" + h.Alias
	}
	return h.Model
}

// Short is how output names the version: v3, or a short record id.
func (h *Holder) Short() string {
	if h.Number > 0 {
		return fmt.Sprintf("v%d", h.Number)
	}
	return h.Version.Short()
}

// ErrNotModel is a name that does not resolve to a model version.
var ErrNotModel = errors.New("not a model")

// ResolveModel finds the model version a user names, by the one resolver
// (registry.Resolve): MODEL (its latest version), MODEL@ALIAS, MODEL@vN,
// or a version's record id.
func ResolveModel(ctx context.Context, r *workspace.Repo, rs *refs.Store, spec string) (*Holder, error) {
	t, err := registry.Resolve(ctx, r, rs, spec)
	if err != nil {
		return nil, err
	}
	rec, err := lineage.Load(ctx, r.Store, t.ID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	if rec.Type != lineage.TypeModel {
		return nil, fmt.Errorf("%s: %s is a %s record, not a model version: %w", spec, t.ID.Short(), rec.Type, ErrNotModel)
	}
	return &Holder{Model: rec.Name, Alias: t.Alias, Version: t.ID, Number: rec.Number, Record: rec}, nil
}

// Holders returns the model versions that hold an alias (by the
// registry's event chain), sorted by model and alias, and the latest
// version of each model that has no alias holder. With model set, only
// its.
func Holders(ctx context.Context, s *objects.Store, rs *refs.Store, model string) ([]*Holder, error) {
	names, ids, err := rs.List()
	if err != nil {
		return nil, err
	}
	var out []*Holder
	aliased := map[string]bool{}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, registry.AliasesPrefix)
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, "/")
		if i < 0 || model != "" && rest[:i] != refs.SafeRefPart(model) {
			continue
		}
		m := rest[:i]
		if model != "" {
			m = model
		}
		hd, err := registry.HolderOf(ctx, s, rs, m, rest[i+1:])
		if err != nil {
			return nil, err
		}
		if hd.Version.IsZero() {
			continue
		}
		out = append(out, &Holder{Model: m, Alias: hd.Alias, Version: hd.Version, Number: hd.Number})
		aliased[m] = true
	}
	for _, n := range names {
		m, ok := strings.CutPrefix(n, registry.ModelsPrefix)
		if !ok || aliased[m] || model != "" && m != model {
			continue
		}
		out = append(out, &Holder{Model: m, Version: ids[n]})
	}
	if model != "" && len(out) == 0 {
		return nil, fmt.Errorf("%s: no model of that name (see dv models): %w", model, ErrNotModel)
	}
	for _, h := range out {
		rec, err := lineage.Load(ctx, s, h.Version)
		if err != nil {
			return nil, fmt.Errorf("%s: version %s: %w", h.Label(), h.Version.Short(), err)
		}
		h.Record, h.Number = rec, rec.Number
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return out[i].Alias < out[j].Alias
	})
	return out, nil
}
