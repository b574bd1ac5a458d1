// Package gitrepo reads the git repository that holds a dv project: the
// pointer files of a revision, the pointers in all history (the roots of
// gc and push --all-commits), the commit/tree/dirty/identity context that
// records carry, the hooks directory and the origin's URL. It is the only
// package that links go-git; refs itself knows only ref names and
// compare-and-swap.
package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// ErrNoGit means the project is not inside a git work tree.
var ErrNoGit = errors.New("not in a git repository")

// Git reads pointer files from the history of the git repository that
// holds a dv project.
type Git struct {
	repo   *git.Repository
	prefix string // the dv root relative to the git root, "" at the root
}

// Open opens the git repository holding the dv root.
func Open(root string) (*Git, error) {
	repo, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, ErrNoGit
	}
	if err != nil {
		return nil, fmt.Errorf("open git: %w", err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("open git: %w", err)
	}
	top, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, err
	}
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(top, r)
	if err != nil {
		return nil, err
	}
	g := &Git{repo: repo}
	if rel != "." {
		g.prefix = filepath.ToSlash(rel) + "/"
	}
	return g, nil
}

// Resolve returns the commit a revision (branch, tag, hash, HEAD~1...) names.
func (g *Git) Resolve(rev string) (*object.Commit, error) {
	h, err := g.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	c, err := g.repo.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	return c, nil
}

// Pointers returns the pointer files of a revision, keyed by the data's
// path relative to the dv root. A pointer that does not parse is an error
// naming it.
func (g *Git) Pointers(ctx context.Context, rev string) (map[string]*pointer.Pointer, error) {
	c, err := g.Resolve(rev)
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	out := map[string]*pointer.Pointer{}
	err = g.walk(ctx, tree, "", nil, func(p string, f *object.File) error {
		ptr, err := readGitPointer(f)
		if err != nil {
			return fmt.Errorf("%s:%s: %w", rev, p, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(p, g.prefix), pointer.Ext)] = ptr
		return nil
	})
	return out, err
}

func readGitPointer(f *object.File) (*pointer.Pointer, error) {
	if f.Size > 1<<20 {
		return nil, fmt.Errorf("pointer file too large")
	}
	s, err := f.Contents()
	if err != nil {
		return nil, err
	}
	return pointer.Decode([]byte(s))
}

// walk calls fn for each pointer file below the dv root in tree, skipping
// git trees already in seen (nil: no skipping).
func (g *Git) walk(ctx context.Context, t *object.Tree, dir string, seen map[plumbing.Hash]bool, fn func(string, *object.File) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, e := range t.Entries {
		p := path.Join(dir, e.Name)
		switch {
		case e.Mode == filemode.Dir:
			// Only descend towards or inside the dv root.
			if g.prefix != "" && !strings.HasPrefix(g.prefix, p+"/") && !strings.HasPrefix(p+"/", g.prefix) {
				continue
			}
			if seen != nil {
				if seen[e.Hash] {
					continue
				}
				seen[e.Hash] = true
			}
			sub, err := g.repo.TreeObject(e.Hash)
			if err != nil {
				return err
			}
			if err := g.walk(ctx, sub, p, seen, fn); err != nil {
				return err
			}
		case e.Mode.IsFile() && strings.HasSuffix(e.Name, pointer.Ext) && strings.HasPrefix(p, g.prefix):
			if seen != nil {
				if seen[e.Hash] {
					continue
				}
				seen[e.Hash] = true
			}
			f, err := t.TreeEntryFile(&e)
			if err != nil {
				return err
			}
			if err := fn(p, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// HistoryRoots returns the object ids (data and records) named by every
// pointer file in every commit reachable from any branch, tag,
// remote-tracking ref or HEAD.
// Pointers that do not parse are reported through bad and skipped.
func (g *Git) HistoryRoots(ctx context.Context, bad func(error)) ([]objects.ID, error) {
	iter, err := g.repo.Log(&git.LogOptions{All: true})
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return nil, nil // no commits yet
		}
		return nil, err
	}
	seen := map[plumbing.Hash]bool{}
	var ids []objects.ID
	err = iter.ForEach(func(c *object.Commit) error {
		t, err := c.Tree()
		if err != nil {
			return err
		}
		return g.walk(ctx, t, "", seen, func(p string, f *object.File) error {
			ptr, err := readGitPointer(f)
			if err != nil {
				bad(fmt.Errorf("%s:%s: %w", c.Hash.String()[:12], p, err))
				return nil
			}
			ids = append(ids, ptr.OID)
			if !ptr.Record.IsZero() {
				ids = append(ids, ptr.Record)
			}
			return nil
		})
	})
	return ids, err
}

// Head describes the current commit: its hash ("" with no commit yet) and
// whether the work tree has uncommitted changes.
func (g *Git) Head() (string, error) {
	ref, err := g.repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return ref.Hash().String(), nil
}

// OriginURL returns the first URL of the origin remote of the git
// repository holding root, as configured (it may hold credentials: redact
// it before printing), or "" when there is none.
func OriginURL(root string) string {
	repo, err := git.PlainOpenWithOptions(root, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return ""
	}
	rem, err := repo.Remote("origin")
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	return rem.Config().URLs[0]
}
