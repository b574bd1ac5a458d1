package dvcli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/train"
)

func cmdTrain(e *env) *cli.Command {
	var a runArgs
	return &cli.Command{
		Name:  "train",
		Usage: "run a training command; its output becomes a model version with the metrics it wrote",
		Description: "dv train is dv run for training: MODEL_PATH is stored as a version of models/MODEL,\n" +
			"with the metrics read from METRICS_FILE (a JSON object, a YAML mapping, or a CSV file\n" +
			"whose last row counts; nested keys are joined with '.').\n\n" +
			"--on TARGET trains on a Slurm or Kubernetes target of dv.yaml's compute: section, as for\n" +
			"dv run (see dv help run and docs/compute.md).",
		ArgsUsage:                 "-- CMD [ARG...]",
		StopOnNthArg:              &stopAfterFirstArg,
		DisableSliceFlagSeparator: true,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "the `MODEL` name (refs models/MODEL and runs/MODEL)", Destination: &a.name},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "the model file or directory `MODEL_PATH` the command writes", Destination: &a.modelPath},
			&cli.StringFlag{Name: "metrics", Aliases: []string{"M"}, Usage: "the `METRICS_FILE` the command writes (JSON, YAML or CSV)", Destination: &a.metrics},
		}, runFlags(&a)...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if a.name == "" || a.modelPath == "" {
				return usagef("train needs a model name and path: dv train -n MODEL -o MODEL_PATH ... -- CMD")
			}
			o, err := runOptions(&a, cmd.Args().Slice())
			if err != nil {
				return err
			}
			o.Model = &train.ModelOptions{Name: a.name}
			a.outs = []string{a.modelPath}
			return runStep(ctx, e, o, &a)
		},
	}
}

func printRun(w io.Writer, e *env, res *train.RunResult) {
	if e.quiet {
		return
	}
	if res.Cached {
		fmt.Fprintf(w, "%s: served from the run cache (run %s)\n", res.Name, res.Run.Short())
	} else {
		fmt.Fprintf(w, "%s: %s in %s (run %s)\n", res.Name, res.Status,
			res.End.Sub(res.Start).Round(time.Millisecond), res.Run.Short())
		if res.NoCache != "" && e.verbose {
			fmt.Fprintf(w, "run cache not used: %s\n", res.NoCache)
		}
	}
	for _, out := range res.Outputs {
		fmt.Fprintf(w, "  output %s: version %s\n", out.Path, out.Record.Short())
	}
	for _, k := range slices.Sorted(maps.Keys(res.Metrics)) {
		fmt.Fprintf(w, "  %s = %s\n", k, formatMetric(res.Metrics[k]))
	}
	if len(res.Outputs) > 0 && !res.Cached {
		paths := make([]string, len(res.Outputs))
		for i, out := range res.Outputs {
			paths[i] = out.Path
		}
		printGitAdd(w, e, paths)
	}
}
