// Package dvcli is dv's command line: flags, output and exit codes. Each
// command opens the project, calls one library function and prints.
package dvcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	gitrepo "github.com/dv-ml/dv/refs/git"
	"github.com/dv-ml/dv/train/compute"
	"github.com/dv-ml/dv/train/drift"
	"github.com/dv-ml/dv/train/registry"
)

// Exit codes (PRODUCT.md).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitIntegrity   = 3
	ExitRejected    = 4
	ExitDrift       = 5
	ExitInterrupted = 130
)

// Version is set at build time with -ldflags "-X ...dvcli.Version=...".
var Version = "0.1.0-dev"

// Main runs dv with the process's arguments and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if p := os.Getenv("DV_CPUPROFILE"); p != "" { // for benchmarking dv itself
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	return Run(ctx, os.Args, os.Stdout, os.Stderr)
}

// Run runs dv with args (args[0] is the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	setUsageErrors(app)
	err := app.Run(ctx, args)
	code := exitCode(ctx, err)
	if err != nil && !errors.Is(err, errSilent) {
		printError(stderr, err)
	}
	return code
}

// printError prints err as one line, or one line per error when it joins
// several (checkout names each file it refused).
func printError(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			printError(w, e)
		}
		return
	}
	fmt.Fprintf(w, "dv: %s\n", oneLine(err.Error()))
}

// errSilent ends a command with exit code 1 and no message (for
// --exit-code: the output said what differs).
var errSilent = errors.New("differs")

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// setUsageErrors makes a bad flag or argument of any subcommand a usage
// error (exit 2, one line), as it is for the root command; urfave/cli
// otherwise prints "Incorrect Usage" and the help, and exits 1.
func setUsageErrors(cmd *cli.Command) {
	for _, c := range cmd.Commands {
		if c.OnUsageError == nil {
			c.OnUsageError = func(_ context.Context, _ *cli.Command, err error, _ bool) error {
				return usageError{err}
			}
		}
		// A leaf command's arguments are paths and names: "h" or "help"
		// among them is data (dv add help, dv remote add h URL), not
		// urfave/cli's help subcommand, which would print the help and
		// exit 0 having done nothing. dv help CMD and CMD --help remain.
		if len(c.Commands) == 0 {
			c.HideHelpCommand = true
		}
		setUsageErrors(c)
	}
}

// exitCode maps an error to dv's exit codes, in one place.
func exitCode(ctx context.Context, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, new(*compute.UnknownTargetError)):
		return ExitUsage
	case errors.Is(err, objects.ErrCorrupt):
		return ExitIntegrity
	case errors.Is(err, registry.ErrRejected):
		return ExitRejected
	case errors.Is(err, drift.ErrDrift):
		return ExitDrift
	}
	return ExitError
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// env is what every command gets: writers and the global flags.
type env struct {
	stdout, stderr io.Writer
	json           bool
	quiet          bool
	verbose        bool
	progress       bool
	dir            string // -C
}

func newApp(stdout, stderr io.Writer) *cli.Command {
	e := &env{stdout: stdout, stderr: stderr}
	return &cli.Command{
		Name:                  "dv",
		Usage:                 "data version control for machine-learning teams",
		Version:               Version,
		EnableShellCompletion: true,
		Writer:                stdout,
		ErrWriter:             stderr,
		ExitErrHandler:        func(context.Context, *cli.Command, error) {},
		OnUsageError: func(_ context.Context, _ *cli.Command, err error, _ bool) error {
			return usageError{err}
		},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "C", Usage: "run as if dv was started in `DIR`"},
			&cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON on stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print more detail"},
			&cli.BoolFlag{Name: "no-progress", Usage: "never show progress bars"},
		},
		Before: func(ctx context.Context, cmd *cli.Command) (context.Context, error) {
			e.json, e.quiet, e.verbose = cmd.Bool("json"), cmd.Bool("quiet"), cmd.Bool("verbose")
			e.progress = !cmd.Bool("no-progress") && !e.quiet && isTerminal(stderr)
			e.dir = cmd.String("C")
			if e.dir != "" {
				if err := os.Chdir(e.dir); err != nil {
					return ctx, usagef("-C %s: %v", e.dir, err)
				}
			}
			return ctx, nil
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return usagef("unknown command %q (see dv help)", cmd.Args().First())
			}
			return cli.ShowAppHelp(cmd)
		},
		Commands: []*cli.Command{
			cmdInit(e), cmdAdd(e), cmdStatus(e), cmdCheckout(e), cmdDiff(e), cmdLs(e),
			cmdFsck(e), cmdGC(e), cmdRemote(e), cmdPush(e), cmdFetch(e), cmdPull(e), cmdInstall(e), cmdVersion(e),
			cmdImport(e), cmdRun(e), cmdTrain(e), cmdRuns(e), cmdMetrics(e),
			cmdLog(e), cmdLineage(e), cmdDrift(e),
			cmdRetrain(e),
			cmdExport(e), cmdVerifyBundle(e),
			cmdReport(e),
			cmdJob(e),
			cmdPromote(e), cmdModels(e), cmdRollback(e),
		},
	}
}

// openRepo opens the project containing the current directory.
func openRepo() (*workspace.Repo, error) {
	root, err := workspace.Find(".")
	if err != nil {
		return nil, err
	}
	r, err := workspace.Open(root)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// openWithPaths opens the project and converts the command's arguments
// (args) to work-tree paths; the caller closes the repo.
func openWithPaths(args []string) (*workspace.Repo, []string, error) {
	r, err := openRepo()
	if err != nil {
		return nil, nil, err
	}
	rels, err := relPaths(r, args)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, rels, nil
}

// relPaths converts command-line paths to work-tree paths.
func relPaths(r *workspace.Repo, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for _, a := range args {
		rel, err := r.Rel(a)
		if err != nil {
			return nil, err
		}
		out = append(out, rel)
	}
	return out, nil
}

// openGit opens the project's git repository.
func openGit(r *workspace.Repo) (*gitrepo.Git, error) { return gitrepo.Open(r.Root) }
