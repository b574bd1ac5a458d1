package train

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train/registry"
)

// Metrics is what a record says about one model version or run.
type Metrics struct {
	ID      objects.ID         `json:"id"`
	Type    string             `json:"type"`
	Name    string             `json:"name,omitempty"`
	Number  int                `json:"number,omitempty"` // a model version's number (v3)
	Run     objects.ID         `json:"run,omitzero"`
	Metrics map[string]float64 `json:"metrics"`
	Record  *lineage.Record    `json:"-"`
}

// MetricsOf returns the metrics a record carries: those of a model
// version (its run's when the version has none), a metrics record or a
// run.
func MetricsOf(ctx context.Context, s *objects.Store, id objects.ID) (*Metrics, error) {
	rec, err := lineage.Load(ctx, s, id)
	if err != nil {
		return nil, err
	}
	m := &Metrics{ID: id, Type: rec.Type, Name: rec.Name, Number: rec.Number, Run: rec.Run, Metrics: rec.Metrics, Record: rec}
	switch rec.Type {
	case lineage.TypeRun:
		m.Run = id
	case lineage.TypeModel, lineage.TypeMetrics:
		if len(m.Metrics) == 0 && !rec.Run.IsZero() {
			run, err := lineage.Load(ctx, s, rec.Run)
			if err != nil {
				return nil, fmt.Errorf("run %s of %s: %w", rec.Run.Short(), id.Short(), err)
			}
			m.Metrics = run.Metrics
		}
	default:
		return nil, fmt.Errorf("%s is a %s version; only runs and models have metrics", id.Short(), rec.Type)
	}
	if m.Metrics == nil {
		m.Metrics = map[string]float64{}
	}
	return m, nil
}

// MetricDelta compares one metric of two records. A and B are nil where
// a side lacks the metric; Delta is B-A when both have it.
type MetricDelta struct {
	Metric string   `json:"metric"`
	A      *float64 `json:"a"`
	B      *float64 `json:"b"`
	Delta  *float64 `json:"delta"`
	// Relative is Delta/|A| when A is not zero.
	Relative *float64 `json:"relative,omitempty"`
}

// DiffMetrics compares every metric of a and b, sorted by name.
func DiffMetrics(a, b map[string]float64) []MetricDelta {
	names := map[string]bool{}
	for k := range a {
		names[k] = true
	}
	for k := range b {
		names[k] = true
	}
	out := make([]MetricDelta, 0, len(names))
	for _, k := range slices.Sorted(maps.Keys(names)) {
		d := MetricDelta{Metric: k}
		if v, ok := a[k]; ok {
			d.A = &v
		}
		if v, ok := b[k]; ok {
			d.B = &v
		}
		if d.A != nil && d.B != nil {
			delta := *d.B - *d.A
			d.Delta = &delta
			if *d.A != 0 {
				rel := delta / math.Abs(*d.A)
				d.Relative = &rel
			}
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Metric < out[j].Metric })
	return out
}

// ShowMetrics returns the metrics of target (see registry.Resolve and MetricsOf),
// or of every models/ ref when target is empty.
func ShowMetrics(ctx context.Context, r *workspace.Repo, rs *refs.Store, target string) ([]*Metrics, error) {
	var ids []objects.ID
	if target != "" {
		id, err := registry.ResolveID(ctx, r, rs, target)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	} else {
		names, refIDs, err := rs.List()
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if strings.HasPrefix(n, "models/") {
				ids = append(ids, refIDs[n])
			}
		}
	}
	out := []*Metrics{}
	for _, id := range ids {
		m, err := MetricsOf(ctx, r.Store, id)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// MetricsComparison is dv metrics diff's answer.
type MetricsComparison struct {
	A       *Metrics      `json:"a"`
	B       *Metrics      `json:"b"`
	Metrics []MetricDelta `json:"metrics"`
}

// CompareMetrics compares the metrics of targets a and b; with b empty,
// those of a's previous version (or run) and a.
func CompareMetrics(ctx context.Context, r *workspace.Repo, rs *refs.Store, a, b string) (*MetricsComparison, error) {
	resolve := func(target string) (*Metrics, error) {
		id, err := registry.ResolveID(ctx, r, rs, target)
		if err != nil {
			return nil, err
		}
		return MetricsOf(ctx, r.Store, id)
	}
	var c MetricsComparison
	var err error
	if b == "" {
		if c.B, err = resolve(a); err != nil {
			return nil, err
		}
		if c.B.Record.Previous.IsZero() {
			return nil, fmt.Errorf("%s: has no previous version to compare with; name two: dv metrics diff A B", a)
		}
		c.A, err = MetricsOf(ctx, r.Store, c.B.Record.Previous)
	} else if c.A, err = resolve(a); err == nil {
		c.B, err = resolve(b)
	}
	if err != nil {
		return nil, err
	}
	c.Metrics = DiffMetrics(c.A.Metrics, c.B.Metrics)
	return &c, nil
}
