package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"os/exec"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// Context is what every record says about the code it came from.
type Context struct {
	Commit string // "" when the repository has no commit yet
	Tree   string // the commit's git tree hash
	Dirty  bool   // tracked files differ from the commit
	Name   string // git user.name
	Email  string // git user.email
}

// Context reads the current commit, whether the work tree is dirty, and
// the git identity. Dirtiness comes from `git status` when git is
// installed (fast on large trees), else from go-git.
func (g *Git) Context(ctx context.Context) (Context, error) {
	var c Context
	if cfg, err := g.repo.ConfigScoped(config.GlobalScope); err == nil {
		c.Name, c.Email = cfg.User.Name, cfg.User.Email
	}
	ref, err := g.repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	c.Commit = ref.Hash().String()
	if commit, err := g.repo.CommitObject(ref.Hash()); err == nil {
		c.Tree = commit.TreeHash.String()
	}
	dirty, err := g.dirty(ctx)
	if err != nil {
		return c, err
	}
	c.Dirty = dirty
	return c, nil
}

func (g *Git) dirty(ctx context.Context) (bool, error) {
	wt, err := g.repo.Worktree()
	if err != nil {
		return false, err
	}
	if path, err := exec.LookPath("git"); err == nil {
		cmd := exec.CommandContext(ctx, path, "status", "--porcelain", "--untracked-files=no")
		cmd.Dir = wt.Filesystem.Root()
		out, err := cmd.Output()
		if err == nil {
			return len(bytes.TrimSpace(out)) > 0, nil
		}
	}
	st, err := wt.Status()
	if err != nil {
		return false, err
	}
	for _, s := range st {
		if s.Worktree != ' ' && s.Worktree != '?' || s.Staging != ' ' && s.Staging != '?' {
			return true, nil
		}
	}
	return false, nil
}
