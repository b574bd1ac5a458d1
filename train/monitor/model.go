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
	"strconv"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train/registry"
)

// AliasPrefix starts the refs of aliases: aliases/MODEL/ALIAS names the
// promotion event that gave ALIAS its holder (registry.HolderOf).
const AliasPrefix = registry.AliasesPrefix

// Holder is one model version named by a user or held by an alias.
type Holder struct {
	Model   string          `json:"model"`
	Alias   string          `json:"alias,omitempty"` // "" when the version was named without an alias
	Version objects.ID      `json:"version"`
	Record  *lineage.Record `json:"-"`
}

// Label is how output names the holder: crop@production, or crop.
func (h *Holder) Label() string {
	if h.Alias != "" {
		return h.Model + "@" + h.Alias
	}
	return h.Model
}

// ErrNotModel is a name that does not resolve to a model version.
var ErrNotModel = errors.New("not a model")

// ResolveModel finds the model version a user names: MODEL (the latest
// version, models/MODEL), MODEL@ALIAS (aliases/MODEL/ALIAS), MODEL@vN (the
// Nth version), or MODEL@ID (a record id or prefix of one of MODEL's
// versions). Versions and aliases are the registry's (VersionNumber,
// HolderOf).
func ResolveModel(ctx context.Context, s *objects.Store, rs *refs.Store, spec string) (*Holder, error) {
	model, at, hasAt := strings.Cut(spec, "@")
	if model == "" || hasAt && at == "" {
		return nil, fmt.Errorf("%q: name a model as MODEL or MODEL@ALIAS", spec)
	}
	latest, err := rs.Get(lineage.RefFor(lineage.TypeModel, model))
	if errors.Is(err, refs.ErrNotFound) {
		return nil, fmt.Errorf("%s: no model of that name (see dv models): %w", model, ErrNotModel)
	}
	if err != nil {
		return nil, err
	}
	h := &Holder{Model: model, Version: latest}
	switch {
	case !hasAt:
	case len(at) > 1 && at[0] == 'v' && isDigits(at[1:]):
		n, _ := strconv.Atoi(at[1:])
		id, err := registry.VersionNumber(ctx, s, rs, model, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", spec, err, ErrNotModel)
		}
		h.Version = id
	default:
		if registry.ValidAlias(at) == nil {
			hold, err := registry.HolderOf(ctx, s, rs, model, at)
			if err != nil {
				return nil, err
			}
			if !hold.Version.IsZero() {
				h.Alias, h.Version = at, hold.Version
				break
			}
		}
		id, rerr := s.Resolve(at)
		if len(at) < 8 || rerr != nil {
			return nil, fmt.Errorf("%s: %s has no alias %s (see dv models %s): %w", spec, model, at, model, ErrNotModel)
		}
		h.Version = id
	}
	rec, err := lineage.Load(ctx, s, h.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	if rec.Type != lineage.TypeModel || rec.Name != model {
		return nil, fmt.Errorf("%s: %s is a %s record, not a version of model %s: %w", spec, h.Version.Short(), rec.Type, model, ErrNotModel)
	}
	h.Record = rec
	return h, nil
}

// Holders returns the model versions that hold an alias
// (aliases/MODEL/ALIAS), sorted by model and alias, and the latest version
// of each model that has no alias at all. With model set, only its.
func Holders(ctx context.Context, s *objects.Store, rs *refs.Store, model string) ([]*Holder, error) {
	names, ids, err := rs.List()
	if err != nil {
		return nil, err
	}
	var out []*Holder
	aliased := map[string]bool{}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, AliasPrefix)
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, "/")
		if i < 0 || model != "" && rest[:i] != model {
			continue
		}
		hold, err := registry.HolderOf(ctx, s, rs, rest[:i], rest[i+1:])
		if err != nil {
			return nil, err
		}
		if hold.Version.IsZero() {
			continue
		}
		out = append(out, &Holder{Model: rest[:i], Alias: rest[i+1:], Version: hold.Version})
		aliased[rest[:i]] = true
	}
	for _, n := range names {
		m, ok := strings.CutPrefix(n, "models/")
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
		h.Record = rec
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return out[i].Alias < out[j].Alias
	})
	return out, nil
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
