package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
)

// addedOutput is an output stored by Repo.Add whose pointer does not name
// a record yet.
type addedOutput struct {
	rel  string
	p    *pointer.Pointer
	prev *pointer.Pointer // nil for a new path
}

// recordSucceeded stores the outputs with Repo.Add and records the run.
// The last output's Add puts the log, the run record (naming every
// output's data), one version record per output (parent: the run) and,
// for dv train, the metrics record into its own writer, so they share its
// pack; their refs move once it is flushed, and each pointer then names
// its version. Without outputs the records get a writer of their own.
func (rn *Runner) recordSucceeded(ctx context.Context, o RunOptions, run *lineage.Record, res *RunResult, logf *os.File, metricsData []byte) error {
	outs := make([]addedOutput, 0, len(o.Outs))
	finish := func(ctx context.Context, w objects.Putter) (func(context.Context) error, error) {
		b := &batch{rc: rn.Rec, w: w}
		if err := rn.prepareRun(ctx, b, o, run, res, outs, logf, metricsData); err != nil {
			return nil, err
		}
		return b.commit, nil
	}
	if len(o.Outs) == 0 {
		w := rn.Repo.Store.NewWriter()
		commit, err := finish(ctx, w)
		if err != nil {
			w.Abort()
			return err
		}
		if err := w.Flush(ctx); err != nil {
			return err
		}
		return commit(ctx)
	}
	for i, rel := range o.Outs {
		opts := workspace.AddOptions{Kind: rn.outputKind(o, rel)}
		if o.Model != nil && rel == o.Model.Path {
			opts.Name = o.Model.Name
		}
		last := i == len(o.Outs)-1
		opts.Annotate = func(ctx context.Context, w objects.Putter, p, prev *pointer.Pointer) (func(context.Context) error, error) {
			p.Record = objects.ID{} // set by prepareRun
			outs = append(outs, addedOutput{rel: rel, p: p, prev: prev})
			if !last {
				return nil, nil
			}
			return finish(ctx, w)
		}
		if _, err := rn.Repo.Add(ctx, rel, opts); err != nil {
			restorePointers(rn.Repo, outs)
			if res.Run.IsZero() {
				return rn.recordFailed(ctx, o, run, res, logf, fmt.Sprintf("store the output %s: %v", rel, err))
			}
			return err
		}
	}
	for _, a := range outs[:len(outs)-1] {
		if err := pointer.Write(rn.Repo.Abs(a.rel)+pointer.Ext, a.p); err != nil {
			return err
		}
	}
	return nil
}

// prepareRun puts the log and the records of a successful run into b.
func (rn *Runner) prepareRun(ctx context.Context, b *batch, o RunOptions, run *lineage.Record, res *RunResult, outs []addedOutput, logf *os.File, metricsData []byte) error {
	var err error
	if run.Log, err = putLog(ctx, b.w, logf); err != nil {
		return fmt.Errorf("run %s: store the log: %w", o.Name, err)
	}
	if err := putPackages(ctx, b.w, run, o.packages); err != nil {
		return fmt.Errorf("run %s: store the package list: %w", o.Name, err)
	}
	run.Status, run.Metrics, run.Outputs = StatusSucceeded, res.Metrics, nil
	for _, a := range outs {
		run.Outputs = append(run.Outputs, lineage.IO{Path: a.rel, Data: a.p.OID})
	}
	run.Parents, run.Objects = runLinks(run, o.Parents)
	var metricsID objects.ID
	if o.Model != nil && metricsData != nil {
		// The metrics file is an output too: the run holds it, so that a
		// cache hit can put it back.
		if metricsID, _, err = objects.PutFile(ctx, b.w, bytes.NewReader(metricsData), 1); err != nil {
			return err
		}
		run.Outputs = append(run.Outputs, lineage.IO{Path: o.Model.MetricsFile, Data: metricsID})
		run.Objects = append(run.Objects, metricsID)
	}
	id, err := b.put(ctx, run, lineage.RefFor(lineage.TypeRun, o.Name))
	if err != nil {
		return err
	}
	res.Run, res.Log, res.Status, res.Outputs = id, run.Log, StatusSucceeded, nil
	for _, a := range outs {
		vid, err := rn.prepareVersion(ctx, b, o, a.rel, a.p, a.prev, id, res.Metrics)
		if err != nil {
			return err
		}
		res.Outputs = append(res.Outputs, lineage.IO{Path: a.rel, Data: a.p.OID, Record: vid})
		if o.Model != nil && a.rel == o.Model.Path {
			res.Model = vid
		}
	}
	if !metricsID.IsZero() {
		rec := &lineage.Record{Type: lineage.TypeMetrics, Name: o.Model.Name, Path: o.Model.MetricsFile,
			Data: metricsID, Objects: []objects.ID{metricsID}, Parents: []objects.ID{res.Model}, Run: id,
			Metrics: res.Metrics}
		if _, err := b.put(ctx, rec, lineage.RefFor(lineage.TypeMetrics, o.Model.Name)); err != nil {
			return err
		}
	}
	if res.CacheKey != "" {
		b.then(func(ctx context.Context) error { return rn.setCache(ctx, res.CacheKey, id) })
	}
	return nil
}

// restorePointers puts back the pointer files of outputs already added
// when a later one fails, so that a failed run leaves no new versions.
func restorePointers(r *workspace.Repo, outs []addedOutput) {
	for _, a := range outs {
		path := r.Abs(a.rel) + pointer.Ext
		if a.prev != nil {
			_ = pointer.Write(path, a.prev)
		} else {
			_ = os.Remove(path)
		}
	}
}

// outputKind is model for a model output, else the kind the output's
// pointer already has, else dataset.
func (rn *Runner) outputKind(o RunOptions, rel string) string {
	if o.Model != nil && rel == o.Model.Path {
		return "model"
	}
	if p, err := pointer.Read(rn.Repo.Abs(rel) + pointer.Ext); err == nil && p.Kind != "model" {
		return p.Kind
	}
	return "dataset"
}

// prepareVersion puts a version record of rel, made by run, into b and
// sets p.Record to it; the pointer file is the caller's to write.
func (rn *Runner) prepareVersion(ctx context.Context, b *batch, o RunOptions, rel string, p, prev *pointer.Pointer, run objects.ID, metrics map[string]float64) (objects.ID, error) {
	rec, ref := lineage.Version(rel, p, prev, run)
	rec.Run = run
	if rec.Type == lineage.TypeModel && o.Model != nil && rel == o.Model.Path {
		rec.Metrics = metrics
	}
	id, err := b.put(ctx, rec, ref)
	if err != nil {
		return id, fmt.Errorf("record output %s: %w", rel, err)
	}
	p.Record = id
	return id, nil
}

// Restore serves a run from the cache: when runcache/<key> names a
// successful run whose outputs are all in the store, each output whose
// pointer names other data gets a new version record (parent: the cached
// run) and its pointer, then the outputs are checked out. It returns nil
// when the cache cannot serve the run.
func (rn *Runner) Restore(ctx context.Context, o RunOptions, key string) (*RunResult, error) {
	id, err := rn.Rec.Refs.Get(CacheRefPrefix + key)
	if err != nil {
		return nil, nil // no entry (or an unreadable one: run instead)
	}
	run, err := lineage.Load(ctx, rn.Repo.Store, id)
	if errors.Is(err, objects.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("run cache entry %s: %w (--force runs without the cache)", id.Short(), err)
	}
	if run.Type != lineage.TypeRun || run.Status != StatusSucceeded || run.CacheKey != key {
		return nil, nil
	}
	metricsFile, found := "", 0
	if o.Model != nil {
		metricsFile = o.Model.MetricsFile
	}
	for _, out := range run.Outputs {
		switch {
		case containsString(o.Outs, out.Path):
			found++
		case out.Path != metricsFile || metricsFile == "":
			return nil, nil
		}
		if !rn.Repo.Store.Has(out.Data) {
			return nil, nil // gc dropped the data: run again
		}
	}
	if found != len(o.Outs) {
		return nil, nil
	}
	res := &RunResult{Name: o.Name, Run: id, Cached: true, CacheKey: key, Status: run.Status,
		Start: run.Start, End: run.End, Log: run.Log, Metrics: run.Metrics}
	w := rn.Repo.Store.NewWriter()
	b := &batch{rc: rn.Rec, w: w}
	var changed []addedOutput
	for _, out := range run.Outputs {
		if out.Path == metricsFile {
			if err := rn.restoreFile(ctx, out); err != nil {
				w.Abort()
				return nil, err
			}
			continue
		}
		a, err := rn.restorePointer(ctx, b, o, out, id, run.Metrics)
		if err != nil {
			w.Abort()
			return nil, err
		}
		if a.p != nil {
			changed = append(changed, a.addedOutput)
		}
		res.Outputs = append(res.Outputs, lineage.IO{Path: out.Path, Data: out.Data, Record: a.record})
		if o.Model != nil && out.Path == o.Model.Path {
			res.Model = a.record
		}
	}
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	if err := b.commit(ctx); err != nil {
		return nil, err
	}
	for _, a := range changed {
		if err := pointer.Write(rn.Repo.Abs(a.rel)+pointer.Ext, a.p); err != nil {
			return nil, err
		}
		if err := workspace.AddIgnore(rn.Repo.Root, a.rel); err != nil {
			return nil, err
		}
	}
	if _, err := rn.Repo.Checkout(ctx, o.Outs, workspace.CheckoutOptions{Force: true}); err != nil {
		return nil, err
	}
	return res, nil
}

// restoreFile writes a small stored output (the metrics file) back.
func (rn *Runner) restoreFile(ctx context.Context, out lineage.IO) error {
	var buf bytes.Buffer
	if _, err := rn.Repo.Store.ReadFile(ctx, out.Data, &buf); err != nil {
		return fmt.Errorf("%s: cached output: %w", out.Path, err)
	}
	abs := rn.Repo.Abs(out.Path)
	if cur, err := os.ReadFile(abs); err == nil && bytes.Equal(cur, buf.Bytes()) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return err
	}
	return objects.WriteFileAtomic(abs, buf.Bytes(), 0o644)
}

// restored is one output of a cache hit: its version record, and the new
// pointer to write when it changed.
type restored struct {
	addedOutput
	record objects.ID
}

// restorePointer finds or prepares the version of out: the current
// pointer's when it names the cached data, else a new one in b.
func (rn *Runner) restorePointer(ctx context.Context, b *batch, o RunOptions, out lineage.IO, run objects.ID, metrics map[string]float64) (restored, error) {
	cur, err := pointer.Read(rn.Repo.Abs(out.Path) + pointer.Ext)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return restored{}, err
	}
	if a, ok := rn.recordedVersion(ctx, o, out, cur, run); ok {
		if cur != nil && cur.Record == a.record && cur.OID == out.Data {
			return restored{record: cur.Record}, nil
		}
		return a, nil
	}
	if cur != nil && cur.OID == out.Data && !cur.Record.IsZero() {
		return restored{record: cur.Record}, nil
	}
	if err := rn.Repo.Store.Complete(ctx, out.Data); err != nil {
		return restored{}, fmt.Errorf("%s: cached output: %w", out.Path, err)
	}
	p := &pointer.Pointer{}
	if cur != nil {
		cp := *cur
		p = &cp
	}
	p.Kind = rn.outputKind(o, out.Path)
	if o.Model != nil && out.Path == o.Model.Path {
		p.Name = o.Model.Name
	}
	if err := rn.describe(ctx, p, out.Data); err != nil {
		return restored{}, fmt.Errorf("%s: cached output: %w", out.Path, err)
	}
	vid, err := rn.prepareVersion(ctx, b, o, out.Path, p, cur, run, metrics)
	return restored{addedOutput{rel: out.Path, p: p, prev: cur}, vid}, err
}

// describe fills a pointer's type, id, size and file count from stored
// data. A file's executable bit is not known and is left off.
func (rn *Runner) describe(ctx context.Context, p *pointer.Pointer, id objects.ID) error {
	l, ok := rn.Repo.Store.Lookup(id)
	if !ok {
		return &objects.NotFoundError{ID: id}
	}
	p.OID, p.Exec = id, false
	if l.Type != objects.TypeTree {
		_, size, err := rn.Repo.Store.FileChunks(ctx, id)
		p.Type, p.Size, p.Files = objects.EntryFile, size, 1
		return err
	}
	t, err := rn.Repo.LoadTree(ctx, id)
	if err != nil {
		return err
	}
	p.Type, p.Size, p.Files = objects.EntryDir, 0, 0
	for _, e := range t.Entries {
		p.Size += e.Size
		switch e.Type {
		case objects.EntryDir:
			p.Files += e.Files
		case objects.EntryFile:
			p.Files++
		}
	}
	return nil
}

// recordedVersion finds the version of out that the cached run itself
// recorded, when the output's ref still names it (a run that ran as a
// compute engine's job, fetched from the remote): its pointer then names
// that record, and no new version is recorded.
func (rn *Runner) recordedVersion(ctx context.Context, o RunOptions, out lineage.IO, cur *pointer.Pointer, run objects.ID) (restored, bool) {
	p := &pointer.Pointer{}
	if cur != nil {
		cp := *cur
		p = &cp
	}
	p.Kind = rn.outputKind(o, out.Path)
	if o.Model != nil && out.Path == o.Model.Path {
		p.Name = o.Model.Name
	}
	p.OID = out.Data
	_, ref := lineage.Version(out.Path, p, cur)
	id, err := rn.Rec.Refs.Get(ref)
	if err != nil {
		return restored{}, false
	}
	rec, err := lineage.Load(ctx, rn.Repo.Store, id)
	if err != nil || rec.Run != run || rec.Data != out.Data || rec.Path != out.Path {
		return restored{}, false
	}
	if err := rn.describe(ctx, p, out.Data); err != nil {
		return restored{}, false
	}
	p.Record = id
	return restored{addedOutput{rel: out.Path, p: p, prev: cur}, id}, true
}
