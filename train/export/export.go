package export

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
)

// Formats dv export writes.
const (
	FormatTar    = "tar"
	FormatOCI    = "oci"
	FormatDocker = "docker"
)

// Formats lists the formats, for help text and flag checks.
var Formats = []string{FormatTar, FormatOCI, FormatDocker}

// ErrExists means OUT exists and Force is not set.
var ErrExists = errors.New("already exists")

// Options control Export.
type Options struct {
	Target    string        // MODEL, MODEL@ALIAS, MODEL@vN, a tracked path or a record id
	Out       string        // the file (tar) or folder (oci, docker) to write
	Format    string        // tar (default), oci or docker
	Force     bool          // replace OUT when it exists
	DVVersion string        // written into the manifest
	Epoch     *time.Time    // mtime and created time instead of the version's time (SOURCE_DATE_EPOCH)
	Source    string        // org.opencontainers.image.source (a URL without credentials), optional
	Serve     *Serve        // the docker format's base image and command (dv.yaml serve:)
	OnData    func(n int64) // progress: bytes of model data written, may be nil

	alias string
}

// Validate checks the options that need no project.
func (o *Options) Validate() error {
	if o.Target == "" {
		return errors.New("no model named")
	}
	if o.Out == "" {
		return errors.New("no output named (-o OUT)")
	}
	switch o.Format {
	case "":
		o.Format = FormatTar
	case FormatTar, FormatOCI, FormatDocker:
	default:
		return fmt.Errorf("unknown format %q (want %s)", o.Format, strings.Join(Formats, ", "))
	}
	if u, err := url.Parse(o.Source); err == nil && u.User != nil {
		return errors.New("--source: a URL with credentials is refused")
	}
	return nil
}

// ParseEpoch reads SOURCE_DATE_EPOCH (seconds since 1970, UTC); "" is nil.
func ParseEpoch(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want whole seconds since 1970", s)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// Result says what Export wrote.
type Result struct {
	Out     string     `json:"out"`
	Format  string     `json:"format"`
	Model   string     `json:"model"`
	Number  int        `json:"number"`
	Record  objects.ID `json:"record"`
	Files   int        `json:"files"`
	Bytes   int64      `json:"bytes"`
	Tag     string     `json:"tag,omitempty"`       // oci: the tag in index.json
	Digest  string     `json:"digest,omitempty"`    // oci: the manifest's digest
	Created time.Time  `json:"created"`             // the bundle's timestamp
	Alias   string     `json:"alias,omitempty"`     // exported by this alias
	Aliases []string   `json:"aliases,omitempty"`   // aliases holding the version
	Commit  string     `json:"commit,omitempty"`    // git commit of the version
	RunID   objects.ID `json:"run,omitzero"`        // the run that made it
	DataID  objects.ID `json:"data"`                // dv id of the files
	Image   string     `json:"image_dir,omitempty"` // docker: where the model lies in the image
}

// Export writes the model version opts.Target names to opts.Out in
// opts.Format.
func Export(ctx context.Context, r *workspace.Repo, rs *refs.Store, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(opts.Out); err == nil && !opts.Force {
		return nil, fmt.Errorf("%s: %w; use --force to replace it", opts.Out, ErrExists)
	}
	id, rec, alias, err := resolveModel(ctx, r, rs, opts.Target)
	if err != nil {
		return nil, err
	}
	opts.alias = alias
	p, err := newPlan(ctx, r, rs, id, rec, &opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Out: opts.Out, Format: opts.Format, Model: p.m.Model.Name, Number: p.m.Model.Number,
		Record: id, Files: len(p.files), Bytes: p.m.Model.Size, Created: p.epoch, Alias: alias,
		Aliases: p.m.Aliases, Commit: rec.Commit, RunID: rec.Run, DataID: rec.Data}
	write := func(tmp string) error {
		switch opts.Format {
		case FormatOCI:
			digest, err := p.writeOCI(ctx, r.Store, tmp)
			res.Tag, res.Digest = p.tag, digest
			return err
		case FormatDocker:
			res.Image = ImageModelDir
			return p.writeDocker(ctx, r.Store, tmp, opts.Serve)
		}
		return p.writeTar(ctx, r.Store, tmp, strings.HasSuffix(opts.Out, ".tar.zst"))
	}
	if err := atomicOutput(opts.Out, opts.Format != FormatTar, opts.Force, write); err != nil {
		return nil, err
	}
	return res, nil
}

// atomicOutput runs write on a temporary file or folder beside out and
// renames it to out when write succeeds; otherwise it removes it.
func atomicOutput(out string, dir, force bool, write func(tmp string) error) (err error) {
	parent, base := filepath.Split(out)
	if parent == "" {
		parent = "."
	}
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s: the folder %s does not exist", out, parent)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".dv-export-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	target := tmp
	if !dir {
		target = filepath.Join(tmp, "bundle")
	} else if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := write(target); err != nil {
		return err
	}
	if _, err := os.Lstat(out); err == nil {
		if !force {
			return fmt.Errorf("%s: %w; use --force to replace it", out, ErrExists)
		}
		if err := os.RemoveAll(out); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(target, out); err != nil {
		return err
	}
	if !dir {
		_ = os.Remove(tmp)
	}
	return objects.SyncDir(parent)
}
