package dvcli

import (
	"context"
	"errors"
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

// sendAlerts posts events to the targets of dv.yaml's alerts: section and
// of --notify. The error names each alert and target that failed, never a
// URL.
func sendAlerts(ctx context.Context, cfg *workspace.Config, cliURLs []string, events ...alert.Event) error {
	if len(events) == 0 {
		return nil
	}
	targets, err := alert.FromConfig(cfg, cliURLs)
	if err != nil || len(targets) == 0 {
		return err
	}
	var errs []error
	for _, ev := range events {
		errs = append(errs, alert.Send(ctx, targets, ev))
	}
	return errors.Join(errs...)
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
