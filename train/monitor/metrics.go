package monitor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train"
)

// Production metrics records: a lineage.TypeMetrics record whose Meta has
// source=production and observed=<RFC 3339 time>, whose parent is the
// model version, and whose Metrics are the values observed. Their ref
// observed/MODEL chains them (Previous) across versions of the model.
const (
	SourceProduction = "production"
	ObservedPrefix   = "observed/"

	metaSource   = "source"
	metaObserved = "observed"
	metaAlias    = "alias"
	metaFile     = "file"
)

// ObservedRef is the ref of the production metrics of model.
func ObservedRef(model string) string { return ObservedPrefix + refs.SafeRefPart(model) }

// LogOptions describe metrics observed in production.
type LogOptions struct {
	Model    string             // MODEL, MODEL@ALIAS or MODEL@vN (see ResolveModel)
	Metrics  map[string]float64 // name -> value; added to (and winning over) File's
	File     string             // a work-tree path of a JSON, YAML or CSV metrics file; may be empty
	Observed time.Time          // when they were observed; zero: now
}

// Breach is a production value past a promotion threshold.
type Breach struct {
	Threshold
	Value float64 `json:"value"`
}

// Observation is one production metrics record.
type Observation struct {
	ID       objects.ID         `json:"id"`
	Model    string             `json:"model"`
	Alias    string             `json:"alias,omitempty"`
	Version  objects.ID         `json:"version"`
	Number   int                `json:"number,omitempty"` // the version's number (v3), when known
	Observed time.Time          `json:"observed"`
	Recorded time.Time          `json:"recorded"`
	File     string             `json:"file,omitempty"`
	Metrics  map[string]float64 `json:"metrics"`
	Breaches []Breach           `json:"breaches,omitempty"`
}

// Log records metrics observed in production on the model version o.Model
// names, and says which promotion thresholds (from cfg) they break: a
// breach makes that version stale.
func Log(ctx context.Context, r *workspace.Repo, rc *lineage.Recorder, cfg *workspace.Config, o LogOptions) (*Observation, error) {
	values := map[string]float64{}
	if o.File != "" {
		m, _, err := train.ReadMetricsFile(r.Abs(o.File))
		if err != nil {
			return nil, fmt.Errorf("--file %s: %w", o.File, errors.Unwrap(err))
		}
		maps.Copy(values, m)
	}
	maps.Copy(values, o.Metrics)
	if len(values) == 0 {
		return nil, errors.New("no metrics to log: give k=v or --file F")
	}
	for k, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("metric %s: %v is not a number dv records", k, v)
		}
	}
	ths, err := LoadThresholds(cfg)
	if err != nil {
		return nil, err
	}
	h, err := ResolveModel(ctx, r, rc.Refs, o.Model)
	if err != nil {
		return nil, err
	}
	observed := o.Observed
	if observed.IsZero() {
		observed = rc.Now()
	}
	observed = observed.UTC()
	meta := map[string]string{metaSource: SourceProduction, metaObserved: observed.Format(time.RFC3339Nano)}
	if h.Alias != "" {
		meta[metaAlias] = h.Alias
	}
	if o.File != "" {
		meta[metaFile] = o.File
	}
	rec := &lineage.Record{Type: lineage.TypeMetrics, Name: h.Model, Parents: []objects.ID{h.Version},
		Metrics: values, Meta: meta}
	id, err := rc.Write(ctx, rec, ObservedRef(h.Model))
	if err != nil {
		return nil, err
	}
	ob := observation(id, rec, ths)
	ob.Number = h.Number
	return ob, nil
}

// VersionLabel is how output names the observation's version: v3, or a
// short record id.
func (ob *Observation) VersionLabel() string {
	if ob.Number > 0 {
		return fmt.Sprintf("v%d", ob.Number)
	}
	return ob.Version.Short()
}

// observation reads a production metrics record; nil when rec is not one.
func observation(id objects.ID, rec *lineage.Record, ths []Threshold) *Observation {
	if rec.Type != lineage.TypeMetrics || rec.Meta[metaSource] != SourceProduction || len(rec.Parents) == 0 {
		return nil
	}
	ob := &Observation{ID: id, Model: rec.Name, Alias: rec.Meta[metaAlias], Version: rec.Parents[0],
		Recorded: rec.Time, File: rec.Meta[metaFile], Metrics: rec.Metrics}
	if t, err := time.Parse(time.RFC3339Nano, rec.Meta[metaObserved]); err == nil {
		ob.Observed = t
	} else {
		ob.Observed = rec.Time
	}
	if ob.Metrics == nil {
		ob.Metrics = map[string]float64{}
	}
	ob.Breaches = breaches(ob.Metrics, ths)
	return ob
}

// breaches lists the thresholds that values break, by metric.
func breaches(values map[string]float64, ths []Threshold) []Breach {
	var out []Breach
	for _, k := range slices.Sorted(maps.Keys(values)) {
		for _, t := range ths {
			if t.Metric == k && t.Breaks(values[k]) {
				out = append(out, Breach{Threshold: t, Value: values[k]})
			}
		}
	}
	return out
}

// History returns the production metrics recorded for the model name
// names, newest observation first, with the thresholds of cfg's promotion
// rules they break: for every version when name is the model's name, else
// (MODEL@ALIAS, MODEL@vN, a version's id or path) for that version only.
func History(ctx context.Context, r *workspace.Repo, rs *refs.Store, cfg *workspace.Config, name string) ([]*Observation, error) {
	ths, err := LoadThresholds(cfg)
	if err != nil {
		return nil, err
	}
	h, err := ResolveModel(ctx, r, rs, name)
	if err != nil {
		return nil, err
	}
	var only objects.ID
	if name != h.Model {
		only = h.Version
	}
	s, model := r.Store, h.Model
	head, err := rs.Get(ObservedRef(model))
	if errors.Is(err, refs.ErrNotFound) {
		return []*Observation{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []*Observation{}
	seen := map[objects.ID]bool{}
	numbers := map[objects.ID]int{}
	for id := head; !id.IsZero() && !seen[id]; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seen[id] = true
		rec, err := lineage.Load(ctx, s, id)
		if err != nil {
			return nil, fmt.Errorf("%s: record %s: %w", ObservedRef(model), id.Short(), err)
		}
		if ob := observation(id, rec, ths); ob != nil && (only.IsZero() || ob.Version == only) {
			n, ok := numbers[ob.Version]
			if !ok {
				if v, err := lineage.Load(ctx, s, ob.Version); err == nil {
					n = v.Number
				}
				numbers[ob.Version] = n
			}
			ob.Number = n
			out = append(out, ob)
		}
		id = rec.Previous
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Observed.After(out[j].Observed) })
	return out, nil
}

// ParseTime reads a --time value: RFC 3339 (2026-12-01T09:30:00Z, with
// or without seconds or zone; no zone is UTC) or a date (2026-12-01).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2026-12-01T09:30:00Z) or a date (2026-12-01)", s)
}
