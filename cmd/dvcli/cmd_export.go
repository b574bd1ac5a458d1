package dvcli

import (
	"context"
	"os"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/export"
)

func cmdExport(e *env) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write a model version as a deterministic, self-describing bundle: tar, OCI (ModelPack) or docker build context",
		Description: "MODEL is a model name (its latest version), MODEL@vN, MODEL@ALIAS, a tracked path or a\n" +
			"record id. Every format holds the model's files under model/ and manifest.json (ids, SHA-256\n" +
			"and BLAKE3 of each file, metrics, aliases, the run, its params, input data versions and git\n" +
			"commit). --format tar writes one tar (zstd-compressed when OUT ends in .tar.zst); oci an OCI\n" +
			"image layout holding a CNCF ModelPack artifact tagged vN (skopeo copy oci:OUT:vN ...); docker\n" +
			"a build context whose image holds the files in /model and the manifest in /dv/manifest.json,\n" +
			"with the base image and command from dv.yaml's serve: section (default FROM scratch).\n" +
			"Output is byte-identical for one version; entries carry the version's time, or\n" +
			"SOURCE_DATE_EPOCH when set. See docs/deploy.md.",
		ArgsUsage: "MODEL[@ALIAS|@vN]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the bundle to `OUT` (a file for tar, a folder for oci and docker)"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: export.FormatTar,
				Usage: "`FORMAT`: " + strings.Join(export.Formats, ", ")},
			&cli.BoolFlag{Name: "force", Usage: "replace OUT when it exists"},
			&cli.StringFlag{Name: "source", Usage: "the source `URL` to record (default: git's origin remote, without credentials)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usagef("export takes one MODEL (MODEL, MODEL@vN, MODEL@ALIAS or a record id)")
			}
			opts := export.Options{Target: cmd.Args().First(), Out: cmd.String("output"), Format: cmd.String("format"),
				Force: cmd.Bool("force"), DVVersion: Version, Source: cmd.String("source")}
			if opts.Out == "" {
				return usagef("export needs -o OUT")
			}
			if err := opts.Validate(); err != nil {
				return usageError{err}
			}
			epoch, err := export.ParseEpoch(os.Getenv("SOURCE_DATE_EPOCH"))
			if err != nil {
				return usageError{err}
			}
			opts.Epoch = epoch
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			if opts.Source == "" {
				opts.Source = originURL(r)
			}
			if opts.Format == export.FormatDocker {
				cfg, err := workspace.LoadConfig(r.Root)
				if err != nil {
					return err
				}
				if opts.Serve, err = export.LoadServe(cfg); err != nil {
					return err
				}
			}
			onData, done := e.bar("exporting "+opts.Target, 0)
			opts.OnData = onData
			res, err := export.Export(ctx, r, localRefs(r), opts)
			done()
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(res)
			}
			e.printf("exported model %s v%d (record %s) to %s (%s): %d files, %s\n", res.Model, res.Number,
				res.Record.Short(), res.Out, res.Format, res.Files, humanBytes(res.Bytes))
			switch res.Format {
			case export.FormatOCI:
				e.printf("  tag %s, manifest %s (skopeo copy oci:%s:%s ...)\n", res.Tag, res.Digest, res.Out, res.Tag)
			case export.FormatDocker:
				e.printf("  build it: buildah bud -t %s:v%d %s   (the model lies in %s)\n",
					strings.ToLower(res.Model), res.Number, res.Out, res.Image)
			}
			return nil
		},
	}
}

// originURL is git's origin remote without credentials, or "".
func originURL(r *workspace.Repo) string {
	repo, err := git.PlainOpenWithOptions(r.Root, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	rem, err := repo.Remote("origin")
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	return redactURL(rem.Config().URLs[0])
}
