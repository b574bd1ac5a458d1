package dvcli

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/monitor"
)

func cmdRetrain(e *env) *cli.Command {
	var on onFlags
	return &cli.Command{
		Name:  "retrain",
		Usage: "re-run the alias holder's recorded training run with the newest versions of its inputs",
		Description: "The version holding --alias (default: dv.yaml's promotion.alias, production; the latest\n" +
			"version when the model has no such alias) was made by a recorded run. dv retrain runs its\n" +
			"command again with the same params (-p overrides one) and the same input paths, whose data\n" +
			"must be the newest versions; --on TARGET runs it on a compute target of dv.yaml. The new\n" +
			"run's record names the old run and why the model was stale (see dv status --stale); its\n" +
			"model version is a candidate for dv promote.",
		ArgsUsage: "MODEL",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "alias", Aliases: []string{"a"}, Usage: "re-run the version holding `ALIAS`"},
			&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "override a recorded parameter `k=v` (repeatable)"},
			&cli.BoolFlag{Name: "force", Usage: "run even when the run cache holds the result"},
		}, onFlagDefs(&on)...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usagef("retrain needs one MODEL")
			}
			params, err := train.ParseParams(cmd.StringSlice("param"))
			if err != nil {
				return usageError{err}
			}
			o := monitor.RetrainOptions{Model: cmd.Args().First(), Alias: cmd.String("alias"), Params: params,
				Force: cmd.Bool("force"), Versions: map[string]string{"dv": Version}}
			r, cfg, err := openWithConfig()
			if err != nil {
				return err
			}
			defer r.Close()
			rc, err := newRecorder(ctx, r)
			if err != nil {
				return err
			}
			o.Stdout, o.Stderr = runStreams(e)
			if on.target != "" {
				plan, err := monitor.PlanRetrain(ctx, r, rc.Refs, cfg, o)
				if err != nil {
					return err
				}
				if !e.quiet && !e.json {
					printRetrain(e, plan)
				}
				return runOn(ctx, e, r, rc, plan.Options, on)
			}
			res, err := monitor.Retrain(ctx, &train.Runner{Repo: r, Rec: rc}, cfg, o)
			if err := runJSON(e, res, err); err != nil || e.json {
				return err
			}
			if !e.quiet {
				printRetrain(e, res)
				printRun(e.stdout, e, res.Run)
				if res.Run.Model.IsZero() {
					return nil
				}
				v := res.Run.Model.Short()
				if res.Number > 0 {
					v = fmt.Sprintf("v%d", res.Number)
				}
				e.printf("Candidate: %s@%s; to decide: dv promote %s %s\n", res.Holder.Model, v, res.Holder.Model, v)
			}
			return nil
		},
	}
}

// printRetrain says which version is re-run, and why.
func printRetrain(e *env, res *monitor.RetrainResult) {
	e.printf("retrain %s (version %s, run %s)\n", res.Holder.Label(), res.Holder.Short(), res.OldRun.Short())
	for _, rs := range res.Reasons {
		e.printf("  because %s: %s\n", rs.Kind, rs.Detail)
	}
}
