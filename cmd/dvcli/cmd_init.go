package dvcli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

const yamlTemplate = `# dv project file (committed to git). See dv help and docs/ for every key.
version: 1
project: %s
# goal: the business goal, in one sentence.
# kpi:                       # the business metric
#   name: revenue_per_ha
#   direction: higher        # higher or lower is better
#   key: revenue_per_ha      # its key in the metrics file (default: name)
# metrics:
#   primary: rmse            # the metric dv shows first
# promotion:                 # the gate of dv promote (dv help promote)
#   alias: production        # the alias that dv promote moves by default
#   criteria:                # all must hold against the current holder
#     - metric: rmse
#       direction: lower
#       threshold: 2.0       # absolute bound for the candidate
#       min_relative_improvement: 0.02   # at least 2 %% better than the holder
#     - metric: rmse
#       direction: lower
#       slices: all          # also in every slice of the metrics file
#       max_regression: 0.05 # a guard: no slice may get worse by more
#       min_rows: 200        # smaller slices are reported as skipped
#     - metric: revenue_per_ha
#       direction: higher
#       max_regression: 0.0
# drift:
#   method: auto
#   threshold: 0.1
# serve:                     # dv export --format docker (docs/deploy.md)
#   base: scratch            # FROM; e.g. python:3.12-slim
#   command: [python, serve.py, --model, /model]
# remotes:
#   default: shelf
#   shelf: {url: ../shelf}
`

func cmdInit(e *env) *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create .dv/ and a commented dv.yaml in the current directory",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-git", Usage: "allow a project outside a git work tree"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return usagef("init takes no arguments")
			}
			root, err := os.Getwd()
			if err != nil {
				return err
			}
			if !cmd.Bool("no-git") {
				if _, err := gitrepo.Open(root); errors.Is(err, gitrepo.ErrNoGit) {
					return fmt.Errorf("%s is not in a git work tree: run git init first, or dv init --no-git", root)
				} else if err != nil {
					return err
				}
			}
			_, statErr := os.Stat(filepath.Join(root, workspace.DirName))
			existed := statErr == nil
			if err := workspace.Init(root); err != nil {
				return err
			}
			yml := filepath.Join(root, "dv.yaml")
			if _, err := os.Stat(yml); errors.Is(err, fs.ErrNotExist) {
				body := fmt.Sprintf(yamlTemplate, filepath.Base(root))
				if err := objects.WriteFileAtomic(yml, []byte(body), 0o644); err != nil {
					return err
				}
			}
			if e.json {
				return e.printJSON(map[string]any{"root": root, "reinitialized": existed})
			}
			if existed {
				e.printf("Reinitialized dv project in %s\n", root)
			} else {
				e.printf("Initialized dv project in %s\n", root)
			}
			return nil
		},
	}
}

func cmdVersion(e *env) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print dv's version",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if e.json {
				return e.printJSON(map[string]string{"version": Version, "go": goVersion()})
			}
			e.printf("dv %s (%s)\n", Version, goVersion())
			return nil
		},
	}
}
