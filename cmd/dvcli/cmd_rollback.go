package dvcli

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/train/registry"
)

func cmdRollback(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "give an alias back to the version that held it before; recorded",
		ArgsUsage: "MODEL",
		Description: `Moves ALIAS (default production) of MODEL back to the version that held it
before its current holder, and records the decision in the model's event
chain. Rolling back twice goes back two holders. The decision is sent as a
promotion alert (verdict rolled-back) to the alerts: webhooks and --notify
URLs. See docs/registry.md.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the `ALIAS` to roll back (default: promotion.alias, else production)"},
			&cli.StringFlag{Name: "reason", Usage: "why, recorded with the decision (`TEXT`)"},
			notifyFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usagef("rollback takes MODEL")
			}
			r, rc, err := openWithRecorder(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			targets, err := projectAlerts(r, cmd.StringSlice("notify"))
			if err != nil {
				return err
			}
			d, err := registry.Rollback(ctx, r, rc, cmd.Args().First(), cmd.String("to"), cmd.String("reason"))
			if err != nil {
				return err
			}
			err = printDecision(e, d)
			notify(ctx, e, targets, promotionAlert(d))
			return err
		},
	}
}
