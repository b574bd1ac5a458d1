// Package alert posts dv's events (a drift check, a stale model, a
// promotion, a production metric past its threshold) to webhooks as JSON
// of the documented dv.alert/v1 shape, with a Slack-compatible "text"
// field. A webhook URL is a secret: it may be given as env:NAME, and it
// never appears in an error, a record or anything dv prints; a target is
// named by where it was configured (alerts[0], --notify) instead.
//
// Callers build their targets once with FromConfig (dv.yaml's alerts:
// section plus --notify URLs) and call Send with an Event; Send posts to
// every target that wants the event's kind, retrying 429 and 5xx answers
// (and dropped connections) a bounded number of times with backoff.
package alert

import (
	"fmt"
	"strings"
	"time"
)

// Schema is the value of every event's "schema" field.
const Schema = "dv.alert/v1"

// Event kinds: the values of Event.Event and of an alerts: target's on list.
const (
	KindDrift     = "drift"     // a drift check found drift
	KindStale     = "stale"     // a model's alias holder is stale (dv status --stale)
	KindPromotion = "promotion" // dv promote decided (promoted or rejected)
	KindMetrics   = "metrics"   // a production metric broke a promotion threshold
)

// Kinds lists the event kinds, in the order docs/monitoring.md gives them.
var Kinds = []string{KindDrift, KindStale, KindPromotion, KindMetrics}

// Event is one alert: the JSON body posted to a webhook (docs/monitoring.md,
// "dv.alert/v1"). Fields that do not apply are omitted.
type Event struct {
	Schema    string    `json:"schema"`              // always Schema (Send sets it)
	Event     string    `json:"event"`               // one of Kinds
	Model     string    `json:"model,omitempty"`     // models/NAME's NAME
	Alias     string    `json:"alias,omitempty"`     // production, ...
	Version   string    `json:"version,omitempty"`   // the model version (v3, or a record id)
	Metric    string    `json:"metric,omitempty"`    // the metric or drift statistic
	Value     *float64  `json:"value,omitempty"`     // its value
	Threshold *float64  `json:"threshold,omitempty"` // the bound it was held to
	Verdict   string    `json:"verdict"`             // drift, no-drift, stale, promoted, rejected, breach, ...
	Reason    string    `json:"reason,omitempty"`    // one line: why
	Record    string    `json:"record,omitempty"`    // the id of the record of what happened
	Time      time.Time `json:"time"`                // when it happened (UTC)
	Text      string    `json:"text"`                // for Slack and chat webhooks: one line for people
}

// Float returns a pointer to v, for Event.Value and Event.Threshold.
func Float(v float64) *float64 { return &v }

// Summary is the one-line text of an event: what Text is when the caller
// leaves it empty.
func (ev *Event) Summary() string {
	var b strings.Builder
	b.WriteString("dv " + ev.Event)
	if ev.Model != "" {
		b.WriteString(": " + ev.Model)
		if ev.Alias != "" {
			b.WriteString("@" + ev.Alias)
		}
		if ev.Version != "" {
			b.WriteString(" (" + ev.Version + ")")
		}
	}
	if ev.Verdict != "" {
		b.WriteString(" " + ev.Verdict)
	}
	if ev.Metric != "" && ev.Value != nil {
		fmt.Fprintf(&b, ", %s = %g", ev.Metric, *ev.Value)
		if ev.Threshold != nil {
			fmt.Fprintf(&b, " (threshold %g)", *ev.Threshold)
		}
	}
	if ev.Reason != "" {
		b.WriteString(": " + ev.Reason)
	}
	if ev.Record != "" {
		b.WriteString(" [record " + short(ev.Record) + "]")
	}
	return b.String()
}

// name is how errors name the event: "stale alert for crop@production".
func (ev *Event) name() string {
	s := ev.Event + " alert"
	if ev.Model != "" {
		s += " for " + ev.Model
		if ev.Alias != "" {
			s += "@" + ev.Alias
		}
	}
	return s
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
