package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/train/registry"
)

// Meta keys of production metrics records (train/monitor writes them).
const (
	metaSource       = "source"
	metaObserved     = "observed"
	sourceProduction = "production"
)

// readEvents fills what happened to the model after training: its alias
// decisions (promotion records, in chain order) and the aliases each
// version holds, the latest drift check against one of its versions'
// training data (else the latest check that named no model), and the
// metrics observed in production on its versions.
func readEvents(g *lineage.Graph, d *Data, nameOf map[objects.ID]string) {
	var proms []lineage.Entry
	var drift, unlinked *lineage.Entry
	for _, e := range g.Log(lineage.Filter{}) { // newest first
		switch {
		case e.Type == lineage.TypePromotion && e.Promotion != nil && e.Name == d.Model:
			proms = append(proms, e)
		case e.Type == lineage.TypeDrift && e.Drift != nil && drift == nil && nameOf[e.Model] != "":
			drift = &e
		case e.Type == lineage.TypeDrift && e.Drift != nil && unlinked == nil && e.Model.IsZero():
			unlinked = &e
		case e.Type == lineage.TypeMetrics && e.Meta[metaSource] == sourceProduction && len(e.Parents) > 0 && nameOf[e.Parents[0]] != "":
			t := e.Time
			if o, err := time.Parse(time.RFC3339Nano, e.Meta[metaObserved]); err == nil {
				t = o
			}
			for _, k := range sortedKeys(e.Metrics) {
				d.Production = append(d.Production, Observation{Time: t, Version: nameOf[e.Parents[0]], Metric: k, Value: e.Metrics[k]})
			}
		}
	}
	slices.SortStableFunc(d.Production, func(a, b Observation) int { return a.Time.Compare(b.Time) })
	slices.SortFunc(proms, func(a, b lineage.Entry) int { return cmp.Compare(a.Promotion.Seq, b.Promotion.Seq) })
	holders := map[string]objects.ID{}
	for _, e := range proms {
		p := e.Promotion
		ev := Event{Time: e.Time, Alias: p.Alias, Decision: p.Decision, From: versionName(p.From, p.FromNumber, nameOf),
			To: versionName(p.To, p.ToNumber, nameOf), Who: lineage.Who(e.Record), Reason: reasonOf(p)}
		d.Events = append(d.Events, ev)
		if registry.Moves(p.Decision) {
			holders[p.Alias] = p.To
		}
	}
	for _, a := range sortedKeys(holders) {
		for i := range d.Versions {
			if d.Versions[i].ID == holders[a].String() {
				d.Versions[i].Aliases = append(d.Versions[i].Aliases, a)
			}
		}
	}
	if drift == nil {
		drift = unlinked // a check that named no model: the newest such
	}
	if drift != nil {
		d.Drift = driftOf(*drift, nameOf)
	}
}

func versionName(id objects.ID, n int, nameOf map[objects.ID]string) string {
	switch {
	case id.IsZero():
		return ""
	case nameOf[id] != "":
		return nameOf[id]
	case n > 0:
		return fmt.Sprintf("v%d", n)
	}
	return id.Short()
}

// reasonOf is the event's reason, or the checks that failed.
func reasonOf(p *lineage.Promotion) string {
	if p.Reason != "" {
		return p.Reason
	}
	var failed []string
	for _, c := range p.Checks {
		if c.Result != "fail" {
			continue
		}
		s := c.Metric
		if c.Slice != "" {
			s += " [" + c.Slice + "]"
		}
		if c.Change != nil {
			s += fmt.Sprintf(" %+.4g", *c.Change)
		}
		failed = append(failed, s+": "+c.Rule)
	}
	return strings.Join(failed, "; ")
}

func driftOf(e lineage.Entry, nameOf map[objects.ID]string) *DriftCheck {
	dc := &DriftCheck{Time: e.Time, Drifted: e.Drift.Detected}
	if e.Reference != nil {
		dc.Reference = e.Reference.Path
		if v := nameOf[e.Model]; v != "" {
			dc.Reference += " (training data of " + v + ")"
		}
	}
	if e.Current != nil {
		dc.Current = e.Current.Path
	}
	for _, c := range e.Drift.Columns {
		dc.Columns = append(dc.Columns, DriftColumn{Name: c.Column, Type: c.Type, Method: c.Method,
			Statistic: float64(c.Score), Threshold: c.Threshold, Drift: c.Drift})
	}
	return dc
}
