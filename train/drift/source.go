package drift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
)

// Source is one side of a check: a version record (a dataset, labels or
// import version, or a model version, meaning the data it was trained
// on), or a file or directory on disk.
type Source struct {
	Name   string     // as the user named it
	Path   string     // a file or directory to read from disk
	Record objects.ID // a record, to read its data from the store
}

// ErrNotTabular is data dv drift cannot read as a table.
var ErrNotTabular = errors.New("not tabular data")

// tabularFormat is the reader for a file name: "csv", "tsv", "parquet",
// or "" when the name says it is not a table.
func tabularFormat(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv":
		return "csv"
	case ".tsv":
		return "tsv"
	case ".parquet", ".pq":
		return "parquet"
	}
	return ""
}

// data is a resolved source: what it is and how to read it.
type data struct {
	name   string
	io     lineage.IO
	model  objects.ID
	files  []dataFile
	hashed bool // io.Data is computed while reading (a file on disk)
}

type dataFile struct {
	name   string // path shown in errors
	format string
	disk   string     // read from this file on disk, or
	id     objects.ID // from this content in the store
	size   int64
}

// resolve turns a Source into data: the files to read, and the ids to
// record.
func resolve(ctx context.Context, r *workspace.Repo, src Source) (*data, error) {
	if !src.Record.IsZero() {
		return resolveRecord(ctx, r, src, src.Record)
	}
	fi, err := os.Stat(src.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name, err)
	}
	d := &data{name: src.Name, io: lineage.IO{Path: src.Name}}
	if !fi.IsDir() {
		f := tabularFormat(src.Path)
		if f == "" {
			return nil, fmt.Errorf("%s: %w (dv drift reads .csv, .tsv and .parquet files)", src.Name, ErrNotTabular)
		}
		d.files = []dataFile{{name: src.Name, format: f, disk: src.Path, size: fi.Size()}}
		d.hashed = true
		return d, nil
	}
	err = filepath.WalkDir(src.Path, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() && tabularFormat(p) != "" {
			info, err := e.Info()
			if err != nil {
				return err
			}
			d.files = append(d.files, dataFile{name: p, format: tabularFormat(p), disk: p, size: info.Size()})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, checkFiles(src.Name, d.files)
}

func checkFiles(name string, files []dataFile) error {
	if len(files) == 0 {
		return fmt.Errorf("%s: %w (no .csv, .tsv or .parquet file in it)", name, ErrNotTabular)
	}
	for _, f := range files[1:] {
		if f.format != files[0].format {
			return fmt.Errorf("%s: mixes %s and %s files; one table is one format", name, files[0].format, f.format)
		}
	}
	return nil
}

// resolveRecord reads a version record; a model version stands for the
// data its training run read.
func resolveRecord(ctx context.Context, r *workspace.Repo, src Source, id objects.ID) (*data, error) {
	rec, err := lineage.Load(ctx, r.Store, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name, err)
	}
	var model objects.ID
	if rec.Type == lineage.TypeModel {
		model = id
		if id, rec, err = trainingData(ctx, r, src.Name, rec); err != nil {
			return nil, err
		}
	}
	switch rec.Type {
	case lineage.TypeDataset, lineage.TypeLabels, lineage.TypeImport:
	default:
		return nil, fmt.Errorf("%s: a %s record is not data (name a dataset version, or a model version for its training data)", src.Name, rec.Type)
	}
	name := rec.Name
	if name == "" {
		name = rec.Path
	}
	d := &data{name: name, io: lineage.IO{Path: rec.Path, Data: rec.Data, Record: id}, model: model}
	files, err := storeFiles(ctx, r.Store, rec.Path, rec.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Name, err)
	}
	d.files = files
	return d, checkFiles(src.Name+" ("+rec.Path+")", files)
}

// storeFiles lists the tabular files of data id (a file, or a tree walked
// in path order).
func storeFiles(ctx context.Context, s *objects.Store, name string, id objects.ID) ([]dataFile, error) {
	l, ok := s.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("data %s is not in the store (dv pull it)", id.Short())
	}
	if l.Type != objects.TypeTree {
		f := tabularFormat(name)
		if f == "" {
			return nil, fmt.Errorf("%w (dv drift reads .csv, .tsv and .parquet files)", ErrNotTabular)
		}
		_, size, err := s.FileChunks(ctx, id)
		if err != nil {
			return nil, err
		}
		return []dataFile{{name: name, format: f, id: id, size: size}}, nil
	}
	b, err := s.LoadType(ctx, id, objects.TypeTree)
	if err != nil {
		return nil, err
	}
	t, err := objects.DecodeTree(b)
	if err != nil {
		return nil, err
	}
	var out []dataFile
	for _, e := range t.Entries {
		p := path.Join(name, e.Name)
		switch {
		case e.Type == objects.EntryDir:
			sub, err := storeFiles(ctx, s, p, e.ID)
			if err != nil && !errors.Is(err, ErrNotTabular) {
				return nil, err
			}
			out = append(out, sub...)
		case e.Type == objects.EntryFile && tabularFormat(e.Name) != "":
			out = append(out, dataFile{name: p, format: tabularFormat(e.Name), id: e.ID, size: e.Size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// trainingData finds the data a model version was trained on: the inputs
// of its run that are tabular dataset versions.
func trainingData(ctx context.Context, r *workspace.Repo, name string, model *lineage.Record) (objects.ID, *lineage.Record, error) {
	runID := model.Run
	if runID.IsZero() {
		return objects.ID{}, nil, fmt.Errorf("%s: the model version has no training run in its lineage, so its training data is unknown (name the data with --reference DATA@VERSION)", name)
	}
	run, err := lineage.Load(ctx, r.Store, runID)
	if err != nil {
		return objects.ID{}, nil, fmt.Errorf("%s: run %s: %w", name, runID.Short(), err)
	}
	type cand struct {
		id  objects.ID
		rec *lineage.Record
	}
	var found []cand
	for _, in := range run.Inputs {
		if in.Record.IsZero() {
			continue
		}
		rec, err := lineage.Load(ctx, r.Store, in.Record)
		if err != nil {
			return objects.ID{}, nil, fmt.Errorf("%s: input %s of run %s: %w", name, in.Path, runID.Short(), err)
		}
		if rec.Type != lineage.TypeDataset && rec.Type != lineage.TypeImport {
			continue
		}
		if tabularFormat(in.Path) != "" {
			found = append(found, cand{in.Record, rec})
			continue
		}
		if l, ok := r.Store.Lookup(rec.Data); ok && l.Type == objects.TypeTree {
			if fs, err := storeFiles(ctx, r.Store, in.Path, rec.Data); err == nil && len(fs) > 0 {
				found = append(found, cand{in.Record, rec})
			}
		}
	}
	switch len(found) {
	case 0:
		return objects.ID{}, nil, fmt.Errorf("%s: %w: its training run %s read no CSV or Parquet dataset", name, ErrNotTabular, runID.Short())
	case 1:
		return found[0].id, found[0].rec, nil
	}
	var paths []string
	for _, f := range found {
		paths = append(paths, f.rec.Path)
	}
	slices.Sort(paths)
	return objects.ID{}, nil, fmt.Errorf("%s: its training run read several datasets (%s): name one with --reference DATA@VERSION", name, strings.Join(paths, ", "))
}

// storeReaderAt reads a file's content from the store at any offset,
// loading (and verifying) one chunk at a time.
type storeReaderAt struct {
	ctx    context.Context
	s      *objects.Store
	chunks []objects.ChunkRef
	starts []int64
	mu     sync.Mutex // parquet-go may read from several goroutines
	cur    int
	buf    []byte
}

func newStoreReaderAt(ctx context.Context, s *objects.Store, id objects.ID) (*storeReaderAt, int64, error) {
	chunks, size, err := s.FileChunks(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	ra := &storeReaderAt{ctx: ctx, s: s, chunks: chunks, cur: -1}
	var off int64
	for _, c := range chunks {
		ra.starts = append(ra.starts, off)
		off += int64(c.Size)
	}
	return ra, size, nil
}

func (ra *storeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	n := 0
	for n < len(p) {
		i := sort.Search(len(ra.starts), func(i int) bool { return ra.starts[i] > off }) - 1
		if i < 0 || i >= len(ra.chunks) {
			return n, io.EOF
		}
		if i != ra.cur {
			b, err := ra.s.LoadType(ra.ctx, ra.chunks[i].ID, objects.TypeBlob)
			if err != nil {
				return n, err
			}
			ra.buf, ra.cur = b, i
		}
		within := off - ra.starts[i]
		if within >= int64(len(ra.buf)) {
			return n, io.EOF
		}
		m := copy(p[n:], ra.buf[within:])
		n += m
		off += int64(m)
	}
	return n, nil
}
