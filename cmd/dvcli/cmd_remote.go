package dvcli

import (
	"context"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
)

func cmdRemote(e *env) *cli.Command {
	return &cli.Command{
		Name:  "remote",
		Usage: "manage remotes (folders or S3 buckets) in dv.yaml",
		Commands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add or replace a remote",
				ArgsUsage: "NAME URL",
				Description: "URL is a folder path, file://PATH or s3://bucket[/prefix]. Credentials come only from\n" +
					"the standard AWS chain (environment, profiles), never from dv.yaml.",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "default", Aliases: []string{"d"}, Usage: "make it the default remote"},
					&cli.StringFlag{Name: "endpoint", Usage: "S3 endpoint `URL` for S3-compatible stores"},
					&cli.StringFlag{Name: "region", Usage: "S3 region"},
					&cli.BoolFlag{Name: "path-style", Usage: "S3 path-style addressing"},
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 2 {
						return usagef("remote add needs NAME and URL")
					}
					name, url := cmd.Args().Get(0), cmd.Args().Get(1)
					rc := workspace.RemoteConfig{URL: url, Endpoint: cmd.String("endpoint"),
						Region: cmd.String("region"), PathStyle: cmd.Bool("path-style")}
					return editConfig(func(c *workspace.Config) error {
						if err := c.SetRemote(name, rc, cmd.Bool("default") || len(c.Remotes) == 0); err != nil {
							return usageError{err}
						}
						e.printf("remote %s: %s\n", name, redactURL(url))
						return nil
					})
				},
			},
			{
				Name:      "remove",
				Aliases:   []string{"rm"},
				Usage:     "remove a remote from dv.yaml (its data stays where it is)",
				ArgsUsage: "NAME",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 1 {
						return usagef("remote remove needs NAME")
					}
					return editConfig(func(c *workspace.Config) error { return c.RemoveRemote(cmd.Args().First()) })
				},
			},
			{
				Name:  "list",
				Usage: "list remotes",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					root, err := workspace.Find(".")
					if err != nil {
						return err
					}
					c, err := workspace.LoadConfig(root)
					if err != nil {
						return err
					}
					type item struct {
						Name    string `json:"name"`
						Default bool   `json:"default"`
						workspace.RemoteConfig
					}
					out := []item{}
					for _, n := range c.Names() {
						rc := c.Remotes[n]
						rc.URL = redactURL(rc.URL)
						out = append(out, item{n, n == c.Default, rc})
					}
					if e.json {
						return e.printJSON(out)
					}
					for _, it := range out {
						mark := " "
						if it.Default {
							mark = "*"
						}
						extra := ""
						if it.Endpoint != "" {
							extra = " (endpoint " + redactURL(it.Endpoint) + ")"
						}
						e.printf("%s %-12s %s%s\n", mark, it.Name, it.URL, extra)
					}
					return nil
				},
			},
		},
	}
}

// editConfig loads dv.yaml, applies fn and writes it back atomically.
func editConfig(fn func(*workspace.Config) error) error {
	root, err := workspace.Find(".")
	if err != nil {
		return err
	}
	c, err := workspace.LoadConfig(root)
	if err != nil {
		return err
	}
	if err := fn(c); err != nil {
		return err
	}
	b, err := c.Encode()
	if err != nil {
		return err
	}
	return objects.WriteFileAtomic(filepath.Join(root, workspace.ConfigFile), b, 0o644)
}
