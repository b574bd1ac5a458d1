package dvcli

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train/registry"
)

func goVersion() string { return runtime.Version() }

func cmdAdd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "store files or directories and write their PATH.dv pointer files",
		ArgsUsage: "PATH...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "kind", Usage: "dataset (for new paths), labels, model or other; a re-add keeps the kind"},
			&cli.StringFlag{Name: "name", Usage: "a name for this data"},
			&cli.StringFlag{Name: "labels-for", Usage: "the dataset these labels are for (implies --kind labels)"},
			&cli.StringSliceFlag{Name: "meta", Usage: "metadata `k=v` (repeatable)"},
			&cli.StringFlag{Name: "desc", Usage: "a description"},
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "parallel workers (default: CPUs)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() == 0 {
				return usagef("add needs at least one PATH")
			}
			opts := workspace.AddOptions{Kind: cmd.String("kind"), Name: cmd.String("name"),
				LabelsFor: cmd.String("labels-for"), Desc: cmd.String("desc")}
			for _, kv := range cmd.StringSlice("meta") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usagef("--meta %q: want k=v", kv)
				}
				if opts.Meta == nil {
					opts.Meta = map[string]string{}
				}
				opts.Meta[k] = v
			}
			if err := opts.Validate(); err != nil {
				return usageError{err}
			}
			if opts.Name != "" {
				if err := refs.ValidName("datasets/" + opts.Name); err != nil {
					return usagef("--name %q: %v", opts.Name, err)
				}
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			r.Jobs = cmd.Int("jobs")
			rels, err := relPaths(r, cmd.Args().Slice())
			if err != nil {
				return err
			}
			rc, err := newRecorder(ctx, r)
			if err != nil {
				return err
			}
			var labelsFor objects.ID
			if opts.LabelsFor != "" {
				if labelsFor, err = registry.ResolveID(ctx, r, localRefs(r), opts.LabelsFor); err != nil {
					return fmt.Errorf("--labels-for: %w", err)
				}
			}
			for _, rel := range rels {
				if err := checkAddRef(r, rel, opts); err != nil {
					return err
				}
			}
			var results []*workspace.AddResult
			for _, rel := range rels {
				onData, done := e.bar("adding "+rel, 0)
				r.OnData = onData
				opts.Annotate = versionAnnotator(rc, rel, labelsFor)
				res, err := r.Add(ctx, rel, opts)
				done()
				if err != nil {
					return err
				}
				results = append(results, res)
				if !e.json {
					state := "added"
					if res.Unchanged {
						state = "unchanged"
					}
					e.printf("%s %s: %d files, %s, %s new (%s stored)\n", state, rel, res.Files,
						humanBytes(res.Bytes), humanBytes(res.NewBytes), humanBytes(res.StoredBytes))
				}
			}
			if e.json {
				return e.printJSON(results)
			}
			if anyChanged(results) {
				printGitAdd(e.stdout, e, rels)
			}
			return nil
		},
	}
}

func anyChanged(rs []*workspace.AddResult) bool {
	for _, r := range rs {
		if !r.Unchanged {
			return true
		}
	}
	return false
}

// checkAddRef refuses, before any data is stored, a path whose version
// ref would clash with an existing ref (datasets/a beside datasets/a/b).
func checkAddRef(r *workspace.Repo, rel string, opts workspace.AddOptions) error {
	kind, name := opts.Kind, opts.Name
	if p, err := pointer.Read(r.Abs(rel) + pointer.Ext); err == nil {
		kind, name = cmp.Or(kind, p.Kind), cmp.Or(name, p.Name)
	}
	if name == "" {
		return nil // named by its path: nested paths are refused by Add, with a better message
	}
	if opts.LabelsFor != "" {
		kind = "labels"
	}
	_, ref := lineage.Version(rel, &pointer.Pointer{Kind: cmp.Or(kind, "dataset"), Name: name}, nil)
	if err := localRefs(r).CheckName(ref); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return nil
}
