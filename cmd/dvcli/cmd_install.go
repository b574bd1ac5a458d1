package dvcli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	gitrepo "github.com/dv-ml/dv/refs/git"
)

// hookMarker identifies hooks dv wrote, so they can be updated.
const hookMarker = "# installed by dv install"

var hooks = map[string]string{
	// A failed dv checkout is reported but does not fail git's checkout
	// (git has already moved; dv checkout can be re-run).
	"post-checkout": "#!/bin/sh\n" + hookMarker + "\n# After git checkout of a branch or commit, make the data match.\n[ \"$3\" = 1 ] || exit 0\n[ -d .dv ] || exit 0\ndv checkout || echo \"dv checkout failed; fix it and run dv checkout\" >&2\nexit 0\n",
	// Every branch's data, not just the checked-out one: git push may push
	// any branch, and the no-op case costs one request.
	"pre-push": "#!/bin/sh\n" + hookMarker + "\n# Before git push, push the data every commit needs.\nexec dv push --all-commits\n",
}

func cmdInstall(e *env) *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "install git hooks: post-checkout runs dv checkout, pre-push runs dv push",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			dir, err := gitrepo.HooksDir(r.Root)
			if errors.Is(err, gitrepo.ErrNoGit) {
				return fmt.Errorf("%w: dv install needs git", err)
			}
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			names := []string{"post-checkout", "pre-push"}
			// Check every hook before writing any, so a refusal leaves
			// nothing half installed.
			for _, name := range names {
				p := filepath.Join(dir, name)
				old, err := os.ReadFile(p)
				if err == nil && !strings.Contains(string(old), hookMarker) {
					return fmt.Errorf("%s exists and was not written by dv; merge dv's hook into it by hand (see dv help install)", p)
				}
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			var installed []string
			for _, name := range names {
				p := filepath.Join(dir, name)
				if err := objects.WriteFileAtomic(p, []byte(hooks[name]), 0o755); err != nil {
					return err
				}
				installed = append(installed, p)
			}
			if e.json {
				return e.printJSON(map[string]any{"hooks": installed})
			}
			for _, p := range installed {
				e.printf("installed %s\n", p)
			}
			return nil
		},
	}
}
