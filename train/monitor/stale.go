package monitor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
)

// Reason is one reason a model version is stale.
type Reason struct {
	Kind   string     `json:"kind"`             // new-data, drift or metrics
	Detail string     `json:"detail"`           // one line for people
	Record objects.ID `json:"record,omitzero"`  // the newer data version, the drift check, the metrics record
	Input  string     `json:"input,omitempty"`  // new-data: the run's input path
	Ref    string     `json:"ref,omitempty"`    // new-data: datasets/NAME (or labels/...)
	Old    objects.ID `json:"old,omitzero"`     // new-data: the version it was trained on
	Metric string     `json:"metric,omitempty"` // metrics: the metric
	Value  *float64   `json:"value,omitempty"`
	Bound  *float64   `json:"threshold,omitempty"`
}

// StaleModel is an alias holder with the reasons it is stale.
type StaleModel struct {
	Holder
	Run     objects.ID `json:"run,omitzero"`
	Reasons []Reason   `json:"reasons"`
}

// StaleReport is what Stale found.
type StaleReport struct {
	Policy  []string      `json:"policy"`  // the reasons that count (retrain.on)
	Checked []*Holder     `json:"checked"` // every holder looked at
	Stale   []*StaleModel `json:"stale"`
}

// Stale checks every alias holder (and the latest version of each model
// without aliases; with model set, only that model's): whether an input of
// its run has a newer version (its ref names other data, newer in the
// ref's chain), whether the latest drift check naming it found drift, and
// whether a production metric recorded on it broke a promotion threshold.
// The retrain: policy of cfg picks which reasons count.
func Stale(ctx context.Context, s *objects.Store, rs *refs.Store, cfg *workspace.Config, model string) (*StaleReport, error) {
	pol, err := LoadPolicy(cfg)
	if err != nil {
		return nil, err
	}
	hs, err := Holders(ctx, s, rs, model)
	if err != nil {
		return nil, err
	}
	st, err := loadState(ctx, s, rs, cfg)
	if err != nil {
		return nil, err
	}
	rep := &StaleReport{Policy: pol.On, Checked: hs, Stale: []*StaleModel{}}
	for _, h := range hs {
		sm := &StaleModel{Holder: *h, Run: h.Record.Run, Reasons: st.check(h, pol)}
		if len(sm.Reasons) > 0 {
			rep.Stale = append(rep.Stale, sm)
		}
	}
	return rep, nil
}

// check returns the reasons h is stale that pol counts.
func (st *state) check(h *Holder, pol Policy) []Reason {
	g, ths := st.g, st.ths
	var out []Reason
	if pol.Counts(ReasonNewData) {
		out = append(out, st.newData(h)...)
	}
	if pol.Counts(ReasonDrift) {
		if r := drifted(g, h); r != nil {
			out = append(out, *r)
		}
	}
	if pol.Counts(ReasonMetrics) {
		out = append(out, metricBreaches(g, h, ths)...)
	}
	return out
}

// newData lists the inputs of h's run whose ref now names newer data.
func (st *state) newData(h *Holder) []Reason {
	run, ok := st.g.Entry(h.Record.Run)
	if h.Record.Run.IsZero() || !ok || run.Type != lineage.TypeRun {
		return nil
	}
	var out []Reason
	for _, in := range run.Inputs {
		old, cur, ref, ok := st.newest(in.Record)
		if !ok || cur.ID == in.Record || cur.Data == old.Data {
			continue
		}
		what := "now names other data"
		if inChain(st.g, cur.ID, in.Record) {
			what = "has a newer version"
		}
		out = append(out, Reason{Kind: ReasonNewData, Record: cur.ID, Input: in.Path, Ref: ref, Old: in.Record,
			Detail: fmt.Sprintf("input %s: %s %s %s (trained on %s)", in.Path, ref, what, cur.ID.Short(), in.Record.Short())})
	}
	return out
}

// inChain reports whether old is an earlier version of id.
func inChain(g *lineage.Graph, id, old objects.ID) bool {
	seen := map[objects.ID]bool{}
	for e, ok := g.Entry(id); ok && !seen[e.ID]; e, ok = g.Entry(e.Previous) {
		seen[e.ID] = true
		if e.Previous == old {
			return true
		}
	}
	return false
}

// drifted returns the drift reason when the latest drift check whose
// reference was h's version's training data (the record's model) found
// drift.
func drifted(g *lineage.Graph, h *Holder) *Reason {
	for _, e := range g.Log(lineage.Filter{Types: []string{lineage.TypeDrift}}) {
		if e.Model != h.Version {
			continue
		}
		if e.Drift == nil || !e.Drift.Detected {
			return nil // the latest check found none
		}
		detail := fmt.Sprintf("drift check %s (%s) found drift in %d of %d columns", e.ID.Short(),
			e.Time.UTC().Format("2006-01-02 15:04"), e.Drift.Drifted, e.Drift.Checked)
		var cols []string
		for _, c := range e.Drift.Columns {
			if c.Drift {
				cols = append(cols, c.Column)
			}
		}
		if len(cols) > 0 {
			detail += ": " + strings.Join(cols, ", ")
		}
		share := float64(e.Drift.Drifted) / float64(max(e.Drift.Checked, 1))
		return &Reason{Kind: ReasonDrift, Record: e.ID, Detail: detail, Metric: "drift_share",
			Value: &share, Bound: &e.Drift.Share}
	}
	return nil
}

// metricBreaches lists, per metric, the latest production value recorded
// on h's version that broke a promotion threshold. A breach stays until
// another version holds the alias.
func metricBreaches(g *lineage.Graph, h *Holder, ths []Threshold) []Reason {
	if len(ths) == 0 {
		return nil
	}
	var out []Reason
	done := map[string]bool{}
	for _, e := range g.Log(lineage.Filter{Types: []string{lineage.TypeMetrics}, Name: h.Model}) {
		ob := observation(e.ID, e.Record, ths)
		if ob == nil || ob.Version != h.Version {
			continue
		}
		for _, b := range ob.Breaches {
			key := b.Threshold.String()
			if done[key] {
				continue
			}
			done[key] = true
			out = append(out, Reason{Kind: ReasonMetrics, Record: ob.ID, Metric: b.Metric,
				Value: &b.Value, Bound: &b.Bound,
				Detail: fmt.Sprintf("production %s = %g breaks the promotion threshold %s (observed %s)",
					b.Metric, b.Value, b.Threshold, ob.Observed.UTC().Format("2006-01-02 15:04"))})
		}
	}
	slices.SortStableFunc(out, func(a, b Reason) int {
		if a.Metric < b.Metric {
			return -1
		}
		if a.Metric > b.Metric {
			return 1
		}
		return 0
	})
	return out
}

// state is what the stale checks read: the promotion thresholds, the
// records the refs reach, and the refs.
type state struct {
	ths []Threshold
	g   *lineage.Graph
	ids map[string]objects.ID
}

// loadState reads the state the stale checks need, once per command.
func loadState(ctx context.Context, s *objects.Store, rs *refs.Store, cfg *workspace.Config) (*state, error) {
	ths, err := LoadThresholds(cfg)
	if err != nil {
		return nil, err
	}
	g, err := lineage.LoadRefs(ctx, s, rs)
	if err != nil {
		return nil, err
	}
	_, ids, err := rs.List()
	if err != nil {
		return nil, err
	}
	return &state{ths: ths, g: g, ids: ids}, nil
}

// newest returns the version record v and the newest version of the same
// name (the one its ref names), with that ref; ok is false when v is not a
// version the refs reach or its name has no ref.
func (st *state) newest(v objects.ID) (old, cur lineage.Entry, ref string, ok bool) {
	if v.IsZero() {
		return old, cur, "", false
	}
	if old, ok = st.g.Entry(v); !ok {
		return old, cur, "", false
	}
	name := old.Name
	if name == "" {
		name = old.Path
	}
	ref = lineage.RefFor(old.Type, name)
	cur, ok = st.g.Entry(st.ids[ref])
	return old, cur, ref, ok
}
