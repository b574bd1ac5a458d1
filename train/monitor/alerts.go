package monitor

import (
	"github.com/dv-ml/dv/train/alert"
)

// Alerts returns one metrics event per threshold the observation breaks.
func (ob *Observation) Alerts() []alert.Event {
	var out []alert.Event
	for _, b := range ob.Breaches {
		out = append(out, alert.Event{Event: alert.KindMetrics, Model: ob.Model, Alias: ob.Alias,
			Version: ob.VersionLabel(), Metric: b.Metric, Value: alert.Float(b.Value), Threshold: alert.Float(b.Bound),
			Verdict: "breach", Reason: "production value breaks the promotion threshold " + b.Threshold.String(),
			Record: ob.ID.String(), Time: ob.Observed})
	}
	return out
}

// Alert returns the stale event of a stale model: its first reason's
// details, all reasons in Reason.
func (sm *StaleModel) Alert() alert.Event {
	ev := alert.Event{Event: alert.KindStale, Model: sm.Model, Alias: sm.Alias, Version: sm.Short(),
		Verdict: "stale"}
	for i, r := range sm.Reasons {
		if i == 0 {
			ev.Record, ev.Metric, ev.Value, ev.Threshold = r.Record.String(), r.Metric, r.Value, r.Bound
			if r.Record.IsZero() {
				ev.Record = ""
			}
		} else {
			ev.Reason += "; "
		}
		ev.Reason += r.Kind + ": " + r.Detail
	}
	return ev
}
