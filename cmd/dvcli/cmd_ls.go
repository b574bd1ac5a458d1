package dvcli

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
)

type lsEntry struct {
	Path  string     `json:"path"`
	Type  string     `json:"type"`
	Kind  string     `json:"kind,omitempty"`
	Size  int64      `json:"size"`
	Files int64      `json:"files,omitempty"`
	Exec  bool       `json:"exec,omitempty"`
	ID    objects.ID `json:"oid,omitzero"`
	Link  string     `json:"target,omitempty"`
}

func cmdLs(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list tracked paths, or the files of a tracked directory",
		ArgsUsage: "[PATH]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rev", Usage: "list the version at git revision `REV` instead of the pointer files"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 1 {
				return usagef("ls takes at most one PATH")
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			var ptrs map[string]*pointer.Pointer
			if rev := cmd.String("rev"); rev != "" {
				g, err := openGit(r)
				if err != nil {
					return err
				}
				ptrs, err = g.Pointers(ctx, rev)
				if err != nil {
					return err
				}
			} else if ptrs, err = r.ReadPointers(ctx, nil); err != nil {
				return err
			}
			var out []lsEntry
			if cmd.Args().Len() == 0 {
				for _, p := range slices.Sorted(maps.Keys(ptrs)) {
					ptr := ptrs[p]
					out = append(out, lsEntry{Path: p, Type: ptr.Type, Kind: ptr.Kind, Size: ptr.Size, Files: ptr.Files, ID: ptr.OID})
				}
			} else {
				rel, err := r.Rel(cmd.Args().First())
				if err != nil {
					return err
				}
				if out, err = lsTree(ctx, r, ptrs, rel); err != nil {
					return err
				}
			}
			if e.json {
				if out == nil {
					out = []lsEntry{}
				}
				return e.printJSON(out)
			}
			for _, x := range out {
				switch x.Type {
				case objects.EntrySymlink:
					e.printf("%-7s %10s  %s -> %s\n", x.Type, "", x.Path, x.Link)
				case objects.EntryDir:
					e.printf("%-7s %10s  %s/ (%d files)\n", x.Type, humanBytes(x.Size), x.Path, x.Files)
				default:
					e.printf("%-7s %10s  %s\n", x.Type, humanBytes(x.Size), x.Path)
				}
			}
			return nil
		},
	}
}

// lsTree lists the files at or below rel, which is a tracked path or a
// path inside a tracked directory.
func lsTree(ctx context.Context, r *workspace.Repo, ptrs map[string]*pointer.Pointer, rel string) ([]lsEntry, error) {
	_, e, err := r.Locate(ctx, ptrs, rel)
	if err != nil {
		return nil, err
	}
	var out []lsEntry
	var walk func(p string, e objects.TreeEntry) error
	walk = func(p string, e objects.TreeEntry) error {
		if e.Type != objects.EntryDir {
			out = append(out, lsEntry{Path: p, Type: e.Type, Size: e.Size, Exec: e.Exec, ID: e.ID, Link: e.Target})
			return nil
		}
		t, err := r.LoadTree(ctx, e.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, c := range t.Entries {
			if err := walk(p+"/"+c.Name, c); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(rel, e)
}
