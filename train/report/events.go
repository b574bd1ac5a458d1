package report

import (
	"slices"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

// readEvents fills what happened to the model after training: metrics
// observed in production (metrics records on one of its versions that no
// run wrote).
func readEvents(g *lineage.Graph, d *Data, nameOf map[objects.ID]string) {
	for _, e := range g.Log(lineage.Filter{}) {
		switch e.Type {
		case lineage.TypeMetrics:
			if !e.Run.IsZero() || len(e.Parents) == 0 || nameOf[e.Parents[0]] == "" {
				continue
			}
			for _, k := range sortedKeys(e.Metrics) {
				d.Production = append(d.Production, Observation{Time: e.Time, Version: nameOf[e.Parents[0]], Metric: k, Value: e.Metrics[k]})
			}
		}
	}
	slices.SortStableFunc(d.Production, func(a, b Observation) int { return a.Time.Compare(b.Time) })
}
