package dvcli

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/train"
)

// stopAfterFirstArg makes everything after the command's first argument
// part of the command, so `dv run -n x python t.py --lr 3` needs no "--".
var stopAfterFirstArg = 1

func cmdRun(e *env) *cli.Command {
	var a runArgs
	return &cli.Command{
		Name:  "run",
		Usage: "run a step (ETL, features) with pinned inputs, record it, and store its outputs as new versions",
		Description: "The command runs without a shell in the project root, with each param in DV_PARAM_<KEY>\n" +
			"and all of them in the JSON file DV_PARAMS_FILE. An identical run (same command, params,\n" +
			"input data and code) is served from the run cache instead; --force runs it anyway.\n\n" +
			"--on TARGET submits the run to a Slurm or Kubernetes target of dv.yaml's compute: section\n" +
			"(same cache key: a cached run is served here and nothing is submitted). dv checks that the\n" +
			"commit is pushed and the inputs are on the remote, submits a job that runs dv on the cluster\n" +
			"(fetch the inputs, run, push the outputs and the record), follows it streaming its log\n" +
			"(--detach: print the job id; dv runs --follow/--cancel ID later), and records the run with\n" +
			"the engine, job id and node. --dry-run prints the sbatch script or Job. See docs/compute.md.",
		ArgsUsage:                 "-- CMD [ARG...]",
		StopOnNthArg:              &stopAfterFirstArg,
		DisableSliceFlagSeparator: true,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "the step's `NAME` (the ref runs/NAME)", Destination: &a.name},
			&cli.StringSliceFlag{Name: "out", Aliases: []string{"o"}, Usage: "an output `PATH`, stored after a successful run (repeatable)", Destination: &a.outs},
		}, runFlags(&a)...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if a.name == "" {
				return usagef("run needs a name: dv run -n NAME ... -- CMD")
			}
			o, err := runOptions(&a, cmd.Args().Slice())
			if err != nil {
				return err
			}
			return runStep(ctx, e, o, &a)
		},
	}
}

// runArgs are the flags of dv run and dv train, bound by their flag
// definitions (runFlags and each command's own).
type runArgs struct {
	name               string   // --name
	deps, outs, params []string // --dep, --out (dv train: its --out alone), --param
	force              bool
	modelPath, metrics string // dv train's --out and --metrics
	on                 onFlags
}

// runFlags are the flags dv run and dv train share, bound to a.
func runFlags(a *runArgs) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "dep", Aliases: []string{"d"}, Usage: "an input `PATH`: tracked data that must match its pointer (repeatable)", Destination: &a.deps},
		&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "a parameter `k=v` (repeatable)", Destination: &a.params},
		&cli.BoolFlag{Name: "force", Usage: "run even when the run cache holds the result", Destination: &a.force},
	}, onFlagDefs(&a.on)...)
}

// onFlagDefs are the --on flags of dv run, dv train and dv retrain, bound
// to on.
func onFlagDefs(on *onFlags) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "on", Usage: "submit the run to compute `TARGET` of dv.yaml (Slurm or Kubernetes)", Destination: &on.target},
		&cli.BoolFlag{Name: "wait", Value: true, Usage: "with --on: follow the job, streaming its log, until its run is recorded", Destination: &on.wait},
		&cli.BoolFlag{Name: "detach", Usage: "with --on: print the job id and return (dv runs --follow ID later)", Destination: &on.detach},
		&cli.BoolFlag{Name: "dry-run", Usage: "with --on: print the sbatch script or Kubernetes Job, submit nothing", Destination: &on.dryRun},
	}
}

// runOptions reads the flags and the command (args) shared by run and train.
func runOptions(a *runArgs, args []string) (train.RunOptions, error) {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return train.RunOptions{}, usagef("no command to run: give it after --")
	}
	params, err := train.ParseParams(a.params)
	if err != nil {
		return train.RunOptions{}, usageError{err}
	}
	return train.RunOptions{Name: a.name, Command: args, Params: params, Force: a.force}, nil
}

// runStep resolves the paths, runs, and prints the result.
func runStep(ctx context.Context, e *env, o train.RunOptions, a *runArgs) error {
	r, err := openRepo()
	if err != nil {
		return err
	}
	defer r.Close()
	if o.Deps, err = relPaths(r, a.deps); err != nil {
		return err
	}
	if o.Outs, err = relPaths(r, a.outs); err != nil {
		return err
	}
	if o.Model != nil {
		if o.Model.Path, err = r.Rel(a.modelPath); err != nil {
			return err
		}
		if a.metrics != "" {
			if o.Model.MetricsFile, err = r.Rel(a.metrics); err != nil {
				return err
			}
		}
	}
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	rc, err := newRecorder(ctx, r)
	if err != nil {
		return err
	}
	o.Versions = map[string]string{"dv": Version}
	o.Stdout, o.Stderr = runStreams(e)
	if a.on.target != "" {
		return runOn(ctx, e, r, rc, o, a.on)
	}
	res, err := (&train.Runner{Repo: r, Rec: rc}).Run(ctx, o)
	if err := runJSON(e, res, err); err != nil || e.json {
		return err
	}
	printRun(e.stdout, e, res)
	return nil
}
