// Package importer implements dv import: it fetches one file from a local
// path, an HTTP(S) URL or S3, tracks it like dv add, and records where it
// came from (URL without credentials, ETag, version id, fetch time) as an
// import record that the new dataset version names as its parent.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
)

// Options describe one import.
type Options struct {
	URL    string // empty with Update: the recorded source
	Path   string // work-tree path
	Update bool   // fetch again from the recorded (or given) source
	Force  bool   // overwrite an untracked file at Path
	Kind   string // kind of data; empty: dataset, or the tracked kind

	S3   S3Options
	HTTP *http.Client // nil: a default client
}

// Result reports an import.
type Result struct {
	Path      string     `json:"path"`
	Source    string     `json:"source"`
	UpToDate  bool       `json:"up_to_date"`
	Data      objects.ID `json:"data"`
	Import    objects.ID `json:"import,omitzero"`  // the import record
	Version   objects.ID `json:"version,omitzero"` // the dataset version
	ETag      string     `json:"etag,omitempty"`
	VersionID string     `json:"version_id,omitempty"`
	Bytes     int64      `json:"bytes"`
}

// Import fetches the source into Path and records it; see the package
// comment. With Update, an unchanged source (same ETag, 304 Not Modified,
// or the same content) changes nothing and reports UpToDate.
func Import(ctx context.Context, r *workspace.Repo, rc *lineage.Recorder, o Options) (*Result, error) {
	if err := checkNesting(ctx, r, o.Path); err != nil {
		return nil, err
	}
	abs := r.Abs(o.Path)
	cur, err := pointer.Read(abs + pointer.Ext)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	etag, err := prepare(ctx, r, o.Path, cur, &o)
	if err != nil {
		return nil, err
	}
	if isLocal(o.URL) {
		if o.URL, err = filepath.Abs(o.URL); err != nil { // relative to the caller's directory
			return nil, err
		}
	}
	src := Redact(o.URL)
	fetch, err := fetcherFor(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), ".dv-import-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	f, err := fetch(ctx, o.URL, etag, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err // fetchers name the source (redacted)
	}
	res := &Result{Path: o.Path, Source: src, ETag: f.ETag, VersionID: f.VersionID, Bytes: f.Bytes}
	if f.NotModified {
		res.UpToDate, res.Data, res.Version = true, cur.OID, cur.Record
		return res, nil
	}
	if err := os.Rename(tmp.Name(), abs); err != nil {
		return nil, err
	}
	kind := o.Kind
	if kind == "" && cur == nil {
		kind = "dataset"
	}
	opts := workspace.AddOptions{Kind: kind, Meta: map[string]string{"source": src},
		Annotate: annotator(rc, o.Path, res, rc.Now().UTC())}
	if _, err := r.Add(ctx, o.Path, opts); err != nil {
		return nil, err
	}
	return res, nil
}

// prepare checks Path against what the options ask, fills o.URL from the
// recorded source for an update, and returns the ETag to send.
func prepare(ctx context.Context, r *workspace.Repo, rel string, cur *pointer.Pointer, o *Options) (string, error) {
	if !o.Update {
		if cur != nil {
			return "", fmt.Errorf("%s: already tracked; dv import --update %s fetches it again", rel, rel)
		}
		if _, err := os.Lstat(r.Abs(rel)); err == nil && !o.Force {
			return "", fmt.Errorf("%s: exists; remove it first, or use --force to overwrite it", rel)
		}
		if o.URL == "" {
			return "", errors.New("no URL to import from")
		}
		return "", nil
	}
	if cur == nil {
		return "", fmt.Errorf("%s: not tracked; import it first with dv import URL %s", rel, rel)
	}
	st, _, err := r.Status(ctx, []string{rel})
	if err != nil {
		return "", err
	}
	if len(st) == 1 && st[0].State == workspace.StateModified {
		return "", fmt.Errorf("%s: modified since it was imported; dv add %s keeps the change, dv checkout --force %s drops it", rel, rel, rel)
	}
	imp := importOf(ctx, r.Store, cur.Record)
	recorded := cur.Meta["source"]
	if imp != nil {
		recorded = imp.Source
	}
	if o.URL == "" {
		if recorded == "" {
			return "", fmt.Errorf("%s: no source recorded; give the URL: dv import --update URL %s", rel, rel)
		}
		o.URL = recorded
	}
	if imp == nil || Redact(o.URL) != imp.Source || st[0].State == workspace.StateDeleted {
		return "", nil // a new source, or the file is gone: fetch it whole
	}
	return imp.ETag, nil
}

// checkNesting refuses a path inside, or containing, other tracked data,
// before anything is written there.
func checkNesting(ctx context.Context, r *workspace.Repo, rel string) error {
	inside, contains, err := r.Nesting(ctx, rel)
	if err != nil {
		return err
	}
	if inside != "" {
		return fmt.Errorf("%s: inside %s, which is tracked as a whole; import to a path outside it", rel, inside)
	}
	if contains != "" {
		return fmt.Errorf("%s: contains %s, which is tracked on its own", rel, contains)
	}
	return nil
}

// importOf returns the import record a version was made from, or nil.
func importOf(ctx context.Context, s *objects.Store, version objects.ID) *lineage.Record {
	if version.IsZero() {
		return nil
	}
	v, err := lineage.Load(ctx, s, version)
	if err != nil {
		return nil
	}
	for _, p := range v.Parents {
		if rec, err := lineage.Load(ctx, s, p); err == nil && rec.Type == lineage.TypeImport {
			return rec
		}
	}
	return nil
}

func fetcherFor(o Options) (fetcher, error) {
	switch scheme(o.URL) {
	case "file":
		return fetchFile, nil
	case "http":
		return httpFetcher(o.HTTP), nil
	case "s3":
		return s3Fetcher(o.S3), nil
	}
	s, _, _ := strings.Cut(o.URL, "://")
	return nil, fmt.Errorf("import %s: dv imports from file paths, http(s):// and s3:// URLs, not %s://", Redact(o.URL), s)
}

// annotator records, for new content, an import record and a version of
// the data whose parent it is; content that did not change records
// nothing and keeps the pointer's version.
func annotator(rc *lineage.Recorder, rel string, res *Result, fetchedAt time.Time) func(context.Context, objects.Putter, *pointer.Pointer, *pointer.Pointer) (func(context.Context) error, error) {
	return func(ctx context.Context, w objects.Putter, p, prev *pointer.Pointer) (func(context.Context) error, error) {
		res.Data = p.OID
		if prev != nil && prev.OID == p.OID && !prev.Record.IsZero() && prev.Meta["source"] == p.Meta["source"] {
			res.UpToDate, res.Version = true, prev.Record
			p.Record = prev.Record
			return nil, nil
		}
		imp := &lineage.Record{Type: lineage.TypeImport, Path: rel, Source: res.Source, ETag: res.ETag,
			VersionID: res.VersionID, FetchedAt: fetchedAt, Data: p.OID, Size: p.Size}
		impID, c1, err := rc.Prepare(ctx, w, imp, lineage.RefFor(lineage.TypeImport, rel))
		if err != nil {
			return nil, err
		}
		ver, ref := lineage.Version(rel, p, prev, impID)
		verID, c2, err := rc.Prepare(ctx, w, ver, ref)
		if err != nil {
			return nil, err
		}
		p.Record, res.Import, res.Version = verID, impID, verID
		return func(ctx context.Context) error {
			if err := c1(ctx); err != nil {
				return err
			}
			return c2(ctx)
		}, nil
	}
}

// S3OptionsFor returns the settings of the dv.yaml remote on the same
// bucket as an s3:// URL, if there is one (zero options otherwise).
func S3OptionsFor(cfg *workspace.Config, raw string) S3Options {
	bucket, _, err := splitS3(raw)
	if err != nil || cfg == nil {
		return S3Options{}
	}
	for _, name := range cfg.Names() {
		rc := cfg.Remotes[name]
		b, _, _ := strings.Cut(strings.TrimPrefix(rc.URL, "s3://"), "/")
		if strings.HasPrefix(rc.URL, "s3://") && b == bucket {
			return S3Options{Endpoint: rc.Endpoint, Region: rc.Region, PathStyle: rc.PathStyle}
		}
	}
	return S3Options{}
}
