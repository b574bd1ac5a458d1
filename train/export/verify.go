package export

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

// VerifyResult says what VerifyBundle checked.
type VerifyResult struct {
	Out    string     `json:"out"`
	Format string     `json:"format"`
	Model  string     `json:"model"`
	Number int        `json:"number"`
	Record objects.ID `json:"record"`
	Files  int        `json:"files"`
	Bytes  int64      `json:"bytes"`
	// RecordChecked is true when the bundle was compared with the model
	// version's record in the project's store.
	RecordChecked bool `json:"record_checked"`
	// Note says why the record, or the metrics of its run, were not
	// checked.
	Note string `json:"note,omitempty"`
}

// seenFile is what a bundle holds for one path, hashed.
type seenFile struct {
	size   int64
	sha256 string
	blake3 string
	id     objects.ID
	exec   *bool // the mode the container gives it, when it gives one
}

// contents is what a bundle holds, whatever its format.
type contents struct {
	format string
	files  map[string]*seenFile
	dirs   map[string]bool // the folders it holds (a tar or a docker context)
	// keepsDirs is true for the formats that hold folders: an OCI layout
	// carries the empty ones in its manifest only.
	keepsDirs bool
	manifest  []byte
	problems  []error
}

func (c *contents) problem(name, format string, args ...any) {
	c.problems = append(c.problems, &objects.CorruptError{What: "bundle", Name: name, Reason: fmt.Sprintf(format, args...)})
}

// hashStream reads r to its end, computing SHA-256, BLAKE3 and dv's
// content id (the same chunking as dv add) in one pass.
func hashStream(ctx context.Context, r io.Reader) (*seenFile, error) {
	sh, b3 := sha256.New(), blake3.New()
	pr, pw := io.Pipe()
	type idRes struct {
		id  objects.ID
		err error
	}
	done := make(chan idRes, 1)
	go func() {
		id, _, err := objects.PutFile(ctx, objects.HashOnly{}, pr, 1)
		_ = pr.CloseWithError(err)
		done <- idRes{id, err}
	}()
	n, err := io.CopyBuffer(io.MultiWriter(sh, b3, pw), r, make([]byte, 1<<20))
	_ = pw.CloseWithError(err)
	res := <-done
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	return &seenFile{size: n, sha256: hex.EncodeToString(sh.Sum(nil)), blake3: hex.EncodeToString(b3.Sum(nil)), id: res.id}, nil
}

// RecordLoader loads records from a project's store; nil outside one.
type RecordLoader interface {
	Load(ctx context.Context, id objects.ID) (*lineage.Record, error)
}

// StoreRecords loads records from a store.
type StoreRecords struct{ Store *objects.Store }

// Load loads record id.
func (s StoreRecords) Load(ctx context.Context, id objects.ID) (*lineage.Record, error) {
	return lineage.Load(ctx, s.Store, id)
}

// VerifyBundle checks every digest of the bundle at out (a tar, a
// .tar.zst, an OCI layout or a docker build context) against its
// manifest, and, when recs is not nil, the manifest against the model
// version's record. Each mismatch is a *objects.CorruptError naming the
// file; they are joined: a truncated or garbled bundle, a missing file, a
// digest that does not match. A failed read (permission denied, an I/O
// error) says nothing about the bundle's bytes: it is returned as a plain
// error naming the file.
func VerifyBundle(ctx context.Context, out string, recs RecordLoader) (*VerifyResult, error) {
	return verifyBundle(ctx, out, recs, osOpen)
}

// verifyBundle is VerifyBundle reading the bundle's files with open.
func verifyBundle(ctx context.Context, out string, recs RecordLoader, open openFunc) (*VerifyResult, error) {
	fi, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	var c *contents
	switch {
	case !fi.IsDir():
		c, err = readTar(ctx, out, open)
	case isOCILayout(out):
		c, err = readOCI(ctx, out, open)
	default:
		c, err = readDocker(ctx, out, open)
	}
	if err != nil {
		return nil, err
	}
	res := &VerifyResult{Out: out, Format: c.format}
	if c.manifest == nil {
		c.problem(ManifestName, "missing")
		return res, errors.Join(c.problems...)
	}
	m, err := DecodeManifest(c.manifest)
	if err != nil {
		c.problems = append(c.problems, &objects.CorruptError{What: "bundle", Name: ManifestName, Reason: err.Error()})
		return res, errors.Join(c.problems...)
	}
	res.Model, res.Number, res.Record, res.Files = m.Model.Name, m.Model.Number, m.Model.Record, len(m.Files)
	c.against(m)
	for _, f := range m.Files {
		res.Bytes += f.Size
	}
	if len(c.problems) == 0 {
		dataID, err := c.dataID(m)
		if err != nil {
			return res, err
		}
		if dataID != m.Model.Data {
			c.problem(ManifestName, "model.data is %s, the files make %s", m.Model.Data.Short(), dataID.Short())
		}
		if err := c.checkRecord(ctx, recs, m, dataID, res); err != nil {
			return res, err
		}
	}
	return res, errors.Join(c.problems...)
}

// checkRecord compares the manifest with the model version's record
// when recs holds it, noting in res why not otherwise. Failing to load a
// record is an error, not a problem with the bundle.
func (c *contents) checkRecord(ctx context.Context, recs RecordLoader, m *Manifest, dataID objects.ID, res *VerifyResult) error {
	if recs == nil {
		res.Note = "outside a dv project: digests checked, not the record"
		return nil
	}
	rec, err := recs.Load(ctx, m.Model.Record)
	switch {
	case errors.Is(err, objects.ErrNotFound):
		res.Note = fmt.Sprintf("record %s is not in this project's store: digests checked, not the record", m.Model.Record.Short())
		return nil
	case err != nil:
		return err
	}
	metrics, known := rec.Metrics, true
	if len(metrics) == 0 && !rec.Run.IsZero() {
		// A version without metrics shows its run's (train.MetricsOf).
		run, err := recs.Load(ctx, rec.Run)
		switch {
		case errors.Is(err, objects.ErrNotFound):
			known = false
			res.Note = fmt.Sprintf("run record %s is not in this project's store: metrics not checked", rec.Run.Short())
		case err != nil:
			return err
		default:
			metrics = run.Metrics
		}
	}
	res.RecordChecked = true
	c.againstRecord(m, rec, metrics, known, dataID)
	return nil
}

// against compares what the bundle holds with its manifest.
func (c *contents) against(m *Manifest) {
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Path] = true
		s, ok := c.files[f.Path]
		switch {
		case !ok:
			c.problem(f.Path, "listed in %s but not in the bundle", ManifestName)
		case s.size != f.Size:
			c.problem(f.Path, "%d bytes, %s says %d", s.size, ManifestName, f.Size)
		case s.sha256 != f.SHA256:
			c.problem(f.Path, "SHA-256 %s, %s says %s", s.sha256[:12], ManifestName, short(f.SHA256))
		case s.blake3 != f.BLAKE3:
			c.problem(f.Path, "BLAKE3 %s, %s says %s", s.blake3[:12], ManifestName, short(f.BLAKE3))
		case s.id != f.ID:
			c.problem(f.Path, "dv id %s, %s says %s", s.id.Short(), ManifestName, f.ID.Short())
		case s.exec != nil && *s.exec != f.Exec():
			c.problem(f.Path, "mode differs from %s (%s)", ManifestName, f.Mode)
		}
	}
	extra := make([]string, 0)
	for p := range c.files {
		if !listed[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		c.problem(p, "in the bundle but not in %s", ManifestName)
	}
	if c.keepsDirs {
		c.againstDirs(m)
	}
}

// againstDirs compares the bundle's empty folders with the manifest's
// dirs, both ways: a folder a file or another folder lies in is not
// empty, whether the bundle holds an entry for it or not.
func (c *contents) againstDirs(m *Manifest) {
	full := map[string]bool{ModelDir: true}
	parents := func(p string) {
		for d := path.Dir(p); d != "." && !full[d]; d = path.Dir(d) {
			full[d] = true
		}
	}
	for p := range c.files {
		parents(p)
	}
	for _, f := range m.Files {
		parents(f.Path)
	}
	for d := range c.dirs {
		parents(d)
	}
	listed := map[string]bool{}
	for _, d := range m.Dirs {
		listed[d] = true
		if !c.dirs[d] {
			c.problem(d, "listed in %s but not in the bundle", ManifestName)
		}
	}
	for _, d := range sortedNames(c.dirs) {
		if !full[d] && !listed[d] {
			c.problem(d, "in the bundle but not in %s", ManifestName)
		}
	}
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// dataID computes the dv id of the files: the content id of a one-file
// model, else the tree id, built as dv add builds it.
func (c *contents) dataID(m *Manifest) (objects.ID, error) {
	if m.Model.Type == objects.EntryFile {
		if len(m.Files) != 1 {
			return objects.ID{}, &objects.CorruptError{What: "bundle", Name: ManifestName, Reason: "a file model must have one file"}
		}
		return c.files[m.Files[0].Path].id, nil
	}
	type node struct {
		files map[string]objects.TreeEntry
		dirs  map[string]*node
	}
	newNode := func() *node { return &node{files: map[string]objects.TreeEntry{}, dirs: map[string]*node{}} }
	root := newNode()
	dirOf := func(p string) *node {
		n := root
		for _, part := range strings.Split(p, "/") {
			if part == "" || part == "." {
				continue
			}
			if n.dirs[part] == nil {
				n.dirs[part] = newNode()
			}
			n = n.dirs[part]
		}
		return n
	}
	for _, f := range m.Files {
		rel := strings.TrimPrefix(f.Path, ModelDir+"/")
		dirOf(path.Dir(rel)).files[path.Base(rel)] = objects.TreeEntry{Name: path.Base(rel), Type: objects.EntryFile,
			Exec: f.Exec(), Size: f.Size, ID: c.files[f.Path].id}
	}
	for _, d := range m.Dirs {
		dirOf(strings.TrimPrefix(d, ModelDir+"/"))
	}
	var build func(n *node) (objects.TreeEntry, error)
	build = func(n *node) (objects.TreeEntry, error) {
		t := &objects.Tree{}
		var size, files int64
		for _, name := range sortedNames(n.dirs) {
			e, err := build(n.dirs[name])
			if err != nil {
				return e, err
			}
			e.Name = name
			t.Entries = append(t.Entries, e)
			size, files = size+e.Size, files+e.Files
		}
		for _, e := range n.files {
			t.Entries = append(t.Entries, e)
			size, files = size+e.Size, files+1
		}
		b, err := t.Encode()
		if err != nil {
			return objects.TreeEntry{}, err
		}
		return objects.TreeEntry{Type: objects.EntryDir, Size: size, Files: files, ID: objects.Hash(objects.TypeTree, b)}, nil
	}
	e, err := build(root)
	return e.ID, err
}

func sortedNames[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// againstRecord compares the manifest with the model version's record;
// with the version's metrics when metricsKnown.
func (c *contents) againstRecord(m *Manifest, rec *lineage.Record, metrics map[string]float64, metricsKnown bool, dataID objects.ID) {
	name := rec.Name
	if name == "" {
		name = rec.Path
	}
	switch {
	case rec.Type != lineage.TypeModel:
		c.problem(ManifestName, "model.record %s is a %s record, not a model version", m.Model.Record.Short(), rec.Type)
	case rec.Data != dataID:
		c.problem(ManifestName, "the files make %s, the record %s holds %s", dataID.Short(), m.Model.Record.Short(), rec.Data.Short())
	case m.Model.Name != name:
		c.problem(ManifestName, "model.name %q, the record says %q", m.Model.Name, name)
	case m.Model.Commit != rec.Commit:
		c.problem(ManifestName, "model.commit %q, the record says %q", m.Model.Commit, rec.Commit)
	case m.runID() != rec.Run:
		c.problem(ManifestName, "lineage.run differs from the record's run %s", rec.Run.Short())
	case metricsKnown && !sameMetrics(m.Metrics, metrics):
		c.problem(ManifestName, "metrics differ from the record's")
	}
}

func sameMetrics(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// runID returns the run id of the manifest's lineage (zero when none).
func (m *Manifest) runID() objects.ID {
	if m.Lineage == nil {
		return objects.ID{}
	}
	return m.Lineage.Run
}

// readManifestFrom reads a manifest of bounded size.
func readManifestFrom(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%s: too large", ManifestName)
	}
	return b, nil
}

// readDocker reads a build context: Dockerfile, manifest.json and model/.
// A missing file is a problem, a failed read an error.
func readDocker(ctx context.Context, dir string, open openFunc) (*contents, error) {
	c := &contents{format: FormatDocker, files: map[string]*seenFile{}, dirs: map[string]bool{}, keepsDirs: true}
	b, err := readFile(open, filepath.Join(dir, ManifestName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: not a dv bundle (no %s, oci-layout or tar)", dir, ManifestName)
	case err != nil:
		return nil, err
	}
	c.manifest = b
	df, err := readFile(open, filepath.Join(dir, DockerfileName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.problem(DockerfileName, "missing")
	case err != nil:
		return nil, err
	default:
		if m, err := DecodeManifest(c.manifest); err == nil &&
			!bytes.Contains(df, []byte(AnnotationRecord+`="`+m.Model.Record.String()+`"`)) {
			c.problem(DockerfileName, "its %s label does not name the manifest's record %s", AnnotationRecord, m.Model.Record.Short())
		}
	}
	top := filepath.Join(dir, ModelDir)
	err = filepath.WalkDir(top, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if name == top && errors.Is(err, fs.ErrNotExist) {
				c.problem(ModelDir, "missing")
				return filepath.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, name)
		if err != nil {
			return err
		}
		p := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			c.dirs[p] = true
		case d.Type().IsRegular():
			return c.hashDockerFile(ctx, open, name, p, d)
		default:
			c.problem(p, "not a regular file or folder")
		}
		return nil
	})
	return c, err
}

// hashDockerFile hashes the file name (p in the bundle) of a build context.
func (c *contents) hashDockerFile(ctx context.Context, open openFunc, name, p string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	f, err := open(name)
	if err != nil {
		return err
	}
	s, err := hashStream(ctx, bufio.NewReaderSize(f, 1<<20))
	f.Close()
	if err != nil {
		return ioErr(name, err)
	}
	exec := fi.Mode()&0o111 != 0
	s.exec = &exec
	c.files[p] = s
	return nil
}
