package dvcli

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/importer"
)

func cmdImport(e *env) *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "fetch a file from a path, an HTTP(S) URL or S3, track it, and record its source",
		Description: "URL is a local path, file:///path, http(s)://... or s3://bucket/key. S3 credentials come\n" +
			"from the AWS chain; the endpoint from a dv.yaml remote on the same bucket, or from\n" +
			"AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL. --update fetches PATH again from its recorded\n" +
			"source (or from URL), and does nothing when the source is unchanged.",
		ArgsUsage: "URL PATH | --update [URL] PATH",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "update", Usage: "fetch a tracked import again when its source changed"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite an untracked file at PATH"},
			&cli.StringFlag{Name: "kind", Usage: "dataset (default), labels, model or other"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			args := cmd.Args().Slice()
			o := importer.Options{Update: cmd.Bool("update"), Force: cmd.Bool("force"), Kind: cmd.String("kind")}
			switch {
			case len(args) == 2:
				o.URL = args[0]
			case len(args) == 1 && o.Update:
			default:
				return usagef("import needs URL PATH (or --update PATH)")
			}
			if o.Kind != "" {
				ao := workspace.AddOptions{Kind: o.Kind}
				if err := ao.Validate(); err != nil {
					return usageError{err}
				}
			}
			r, err := openRepo()
			if err != nil {
				return err
			}
			defer r.Close()
			if o.Path, err = r.Rel(args[len(args)-1]); err != nil {
				return err
			}
			if cfg, err := workspace.LoadConfig(r.Root); err == nil {
				o.S3 = importer.S3OptionsFor(cfg, o.URL)
			}
			rc, err := newRecorder(ctx, r)
			if err != nil {
				return err
			}
			res, err := importer.Import(ctx, r, rc, o)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(res)
			}
			if res.UpToDate {
				e.printf("%s: up to date with %s\n", res.Path, res.Source)
				return nil
			}
			e.printf("imported %s: %s from %s (version %s)\n", res.Path, humanBytes(res.Bytes), res.Source, res.Version.Short())
			printGitAdd(e.stdout, e, []string{res.Path})
			return nil
		},
	}
}
