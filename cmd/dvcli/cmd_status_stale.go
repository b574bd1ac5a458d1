package dvcli

import (
	"context"

	"github.com/dv-ml/dv/train/alert"
	"github.com/dv-ml/dv/train/monitor"
)

// staleArgs are the flags of dv status --stale, read once in the Action.
type staleArgs struct {
	argsOrRemote bool     // paths or --remote given (refused)
	notify       []string // --notify
	exitCode     bool     // --exit-code
}

// statusStale is dv status --stale: the stale models, with their reasons.
func statusStale(ctx context.Context, e *env, a staleArgs) error {
	if a.argsOrRemote {
		return usagef("status --stale takes no paths and no --remote")
	}
	r, cfg, err := openWithConfig()
	if err != nil {
		return err
	}
	defer r.Close()
	targets, err := alertTargets(cfg, a.notify)
	if err != nil {
		return err
	}
	rep, err := monitor.Stale(ctx, r.Store, localRefs(r), cfg, "")
	if err != nil {
		return err
	}
	if e.json {
		err = e.printJSON(rep)
	} else if !e.quiet {
		for _, sm := range rep.Stale {
			e.printf("stale: %s (version %s)\n", sm.Label(), sm.Short())
			for _, rs := range sm.Reasons {
				e.printf("  %s: %s\n", rs.Kind, rs.Detail)
			}
		}
		if len(rep.Stale) == 0 {
			e.printf("No stale models (%d checked; reasons that count: %s).\n", len(rep.Checked), joinOrNone(rep.Policy))
		}
	}
	if err != nil {
		return err
	}
	var events []alert.Event
	for _, sm := range rep.Stale {
		events = append(events, sm.Alert())
	}
	notify(ctx, e, targets, events...)
	if len(rep.Stale) > 0 && a.exitCode {
		return errSilent
	}
	return nil
}

func joinOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	out := list[0]
	for _, s := range list[1:] {
		out += ", " + s
	}
	return out
}
