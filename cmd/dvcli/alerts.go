package dvcli

import (
	"context"
	"errors"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/alert"
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
