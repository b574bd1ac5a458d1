package dvcli

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/alert"
	"github.com/dv-ml/dv/train/registry"
)

// notifyFlag is --notify URL, for every command that sends alerts.
func notifyFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "notify", Usage: "also post the alert to the webhook `URL` (or env:NAME; repeatable); never printed or recorded"}
}

// alertTargets reads the webhooks of dv.yaml's alerts: section and of
// --notify before a command does its work: a bad one fails the command
// (a bad --notify URL is a usage error), naming it, never quoting it.
func alertTargets(cfg *workspace.Config, cliURLs []string) ([]alert.Target, error) {
	if _, err := alert.FromConfig(nil, cliURLs); err != nil {
		return nil, usageError{err}
	}
	return alert.FromConfig(cfg, cliURLs)
}

// projectAlerts is alertTargets for the project r: its dv.yaml's alerts:
// and the --notify URLs, read before the command does any work.
func projectAlerts(r *workspace.Repo, cliURLs []string) ([]alert.Target, error) {
	cfg, err := workspace.LoadConfig(r.Root)
	if err != nil {
		return nil, err
	}
	return alertTargets(cfg, cliURLs)
}

// notify posts events to targets once the command's work is done. A
// webhook that does not take an event is a warning (one line naming the
// alert and the target, never the URL): the work stands, and the exit
// code says how it went, not how the chat server is.
func notify(ctx context.Context, e *env, targets []alert.Target, events ...alert.Event) {
	for _, ev := range events {
		err := alert.Send(ctx, targets, ev)
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, err := range j.Unwrap() {
				e.warnf("%v", err)
			}
		} else if err != nil {
			e.warnf("%v", err)
		}
	}
}

// promotionAlert is the promotion event of a dv promote decision: the
// candidate, the decision, and the first rule it failed (if any).
func promotionAlert(d *registry.Decision) alert.Event {
	ev := alert.Event{Event: alert.KindPromotion, Model: d.Model, Alias: d.Alias,
		Version: fmt.Sprintf("v%d", d.Candidate.Number), Verdict: d.Decision, Reason: d.Reason}
	if !d.Event.IsZero() {
		ev.Record = d.Event.String()
	}
	if failed := registry.Failed(d.Checks); len(failed) > 0 {
		ev.Metric, ev.Value = failed[0].Metric, failed[0].Candidate
		if ev.Reason == "" {
			ev.Reason = registry.FailureText(failed)
		}
	}
	if ev.Reason == "" && d.Baseline != nil {
		ev.Reason = fmt.Sprintf("v%d replaces v%d", d.Candidate.Number, d.Baseline.Number)
	}
	return ev
}
