package dvcli

import (
	"context"
	"errors"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/export"
)

func cmdVerifyBundle(e *env) *cli.Command {
	return &cli.Command{
		Name:  "verify-bundle",
		Usage: "check every digest of a bundle written by dv export, and inside a project that it matches its model version's record",
		Description: "OUT is a tar, a .tar.zst, an OCI layout or a docker build context. Each file's size,\n" +
			"SHA-256, BLAKE3 and dv id must match manifest.json, every OCI blob its digest, and the files\n" +
			"must make the data id the manifest names, and a tar's or docker context's folders must be the\n" +
			"manifest's. Inside a dv project holding the version's record, the manifest must match the\n" +
			"record. Exit 3 on any mismatch, one line per damaged file; exit 1 when a file cannot be read.",
		ArgsUsage: "OUT",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usagef("verify-bundle takes one OUT (a bundle written by dv export)")
			}
			var recs export.RecordLoader
			r, err := openRepo()
			switch {
			case err == nil:
				defer r.Close()
				recs = export.StoreRecords{Store: r.Store}
			case !errors.Is(err, workspace.ErrNotRepo):
				return err
			}
			res, err := export.VerifyBundle(ctx, cmd.Args().First(), recs)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(res)
			}
			e.printf("ok: %s (%s): model %s v%d (record %s), %d files, %s; every digest matches\n", res.Out, res.Format,
				res.Model, res.Number, res.Record.Short(), res.Files, humanBytes(res.Bytes))
			if res.RecordChecked {
				e.printf("  matches the model version's record in this project\n")
			}
			if res.Note != "" {
				e.printf("  note: %s\n", res.Note)
			}
			return nil
		},
	}
}
