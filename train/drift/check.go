package drift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/registry"
)

// Options are a check's inputs.
type Options struct {
	Reference, Current Source
	Columns            []string // nil: every column of the reference
	Method             string   // "": dv.yaml's, else auto
	Threshold          float64  // NaN: dv.yaml's, else the method's default
	MemoryBudget       int64    // bytes; 0: DefaultMemoryBudget
	SketchK            int      // 0: SketchK
	Config             Config
	// Recorder writes the drift record; nil records nothing.
	Recorder *lineage.Recorder
}

// Report is a check's outcome.
type Report struct {
	Name      string        `json:"name"` // the reference's name, the record's
	Reference lineage.IO    `json:"reference"`
	Current   lineage.IO    `json:"current"`
	Model     objects.ID    `json:"model,omitzero"`
	Drift     lineage.Drift `json:"drift"`
	Record    objects.ID    `json:"record,omitzero"`

	target registry.Target // how Run resolved the reference (for Alert)
}

// ErrDrift is matched by the error a caller makes of a report whose data
// drifted (DetectedError).
var ErrDrift = errors.New("drift detected")

// DetectedError says the dataset drifted.
type DetectedError struct{ Drifted, Checked int }

func (e *DetectedError) Error() string {
	return fmt.Sprintf("drift detected: %d of %d columns drifted", e.Drifted, e.Checked)
}

// Is makes errors.Is(err, ErrDrift) true.
func (e *DetectedError) Is(target error) bool { return target == ErrDrift }

// Err is a *DetectedError when the dataset drifted, else nil.
func (r *Report) Err() error {
	if r.Drift.Detected {
		return &DetectedError{r.Drift.Drifted, r.Drift.Checked}
	}
	return nil
}

// Check compares the current data with the reference, column by column,
// and records the check (when opts.Recorder is set). Nothing is recorded
// when the check cannot run.
func Check(ctx context.Context, r *workspace.Repo, opts Options) (*Report, error) {
	if err := CheckMethod(opts.Method); err != nil {
		return nil, err
	}
	ref, err := resolve(ctx, r, opts.Reference)
	if err != nil {
		return nil, err
	}
	cur, err := resolve(ctx, r, opts.Current)
	if err != nil {
		return nil, err
	}
	b := &budget{limit: opts.MemoryBudget, sketchK: opts.SketchK}
	if b.limit <= 0 {
		b.limit = DefaultMemoryBudget
	}
	if b.sketchK <= 0 {
		b.sketchK = SketchK
	}
	for _, f := range append(append([]dataFile{}, ref.files...), cur.files...) {
		b.sizeHint += f.size
	}
	rt := newTable(ref.name, nil, opts.Columns, b)
	if err := readData(ctx, r, ref, rt); err != nil {
		return nil, err
	}
	ct := newTable(cur.name, rt, nil, b)
	if err := readData(ctx, r, cur, ct); err != nil {
		return nil, err
	}
	rt.finish()
	ct.finish()
	if ref.hashed {
		linkPointer(r, opts.Reference.Path, &ref.io)
	}
	if cur.hashed {
		linkPointer(r, opts.Current.Path, &cur.io)
	}
	rep := &Report{Name: ref.name, Reference: ref.io, Current: cur.io, Model: ref.model}
	share := DefaultDatasetShare
	if opts.Config.DatasetShare != nil {
		share = *opts.Config.DatasetShare
	}
	rep.Drift = lineage.Drift{Share: share, Columns: []lineage.DriftColumn{}}
	for _, u := range rt.used {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		method, thr := opts.Config.methodFor(u.col.name, opts.Method, opts.Threshold)
		res, err := testColumn(u.col, ct.cols[u.col.name], method, thr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref.name, err)
		}
		rep.Drift.Columns = append(rep.Drift.Columns, res)
		rep.Drift.Checked++
		if res.Drift {
			rep.Drift.Drifted++
		}
		if res.ErrorBound > 0 {
			rep.Drift.Approximate = true
		}
	}
	rep.Drift.Detected = rep.Drift.Checked > 0 && float64(rep.Drift.Drifted) >= share*float64(rep.Drift.Checked)
	if opts.Recorder != nil {
		if rep.Record, err = record(ctx, r, opts.Recorder, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// readData reads every file of d into t; for a file on disk it also
// computes its content id (what dv add would store), so the record names
// the exact data checked.
func readData(ctx context.Context, r *workspace.Repo, d *data, t *table) error {
	for _, f := range d.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		t.name = f.name
		id, err := readFile(ctx, r, f, t, d.hashed && len(d.files) == 1)
		if err != nil {
			return err
		}
		if !id.IsZero() {
			d.io.Data = id
		}
	}
	t.name = d.name
	return nil
}

func readFile(ctx context.Context, r *workspace.Repo, f dataFile, t *table, hash bool) (objects.ID, error) {
	if f.format == "parquet" {
		var ra io.ReaderAt
		if f.disk != "" {
			fh, err := os.Open(f.disk)
			if err != nil {
				return objects.ID{}, err
			}
			defer fh.Close()
			ra = fh
		} else {
			sra, _, err := newStoreReaderAt(ctx, r.Store, f.id)
			if err != nil {
				return objects.ID{}, fmt.Errorf("%s: %w", f.name, err)
			}
			ra = sra
		}
		if err := readParquet(ra, f.size, t); err != nil {
			return objects.ID{}, err
		}
		if !hash {
			return objects.ID{}, nil
		}
		fh, err := os.Open(f.disk)
		if err != nil {
			return objects.ID{}, err
		}
		defer fh.Close()
		id, _, err := objects.PutFile(ctx, objects.HashOnly{}, fh, 1)
		return id, err
	}
	comma := byte(',')
	if f.format == "tsv" {
		comma = '\t'
	}
	var src io.Reader
	var wait func() error
	if f.disk != "" {
		fh, err := os.Open(f.disk)
		if err != nil {
			return objects.ID{}, err
		}
		defer fh.Close()
		src = fh
	} else {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := r.Store.ReadFile(ctx, f.id, pw)
			pw.CloseWithError(err)
			done <- err
		}()
		defer pr.Close()
		src = pr
		wait = func() error { pr.Close(); return <-done }
	}
	var id objects.ID
	var hashDone chan error
	var hw *io.PipeWriter
	if hash {
		var hr *io.PipeReader
		hr, hw = io.Pipe()
		hashDone = make(chan error, 1)
		go func() {
			var err error
			id, _, err = objects.PutFile(ctx, objects.HashOnly{}, hr, 1)
			hr.CloseWithError(err)
			hashDone <- err
		}()
		src = io.TeeReader(src, hw)
	}
	err := readCSV(src, t, comma)
	if hash {
		if err != nil {
			hw.CloseWithError(err)
		} else {
			_, cerr := io.Copy(hw, src) // the rest (nothing, or blank lines)
			hw.CloseWithError(cerr)
		}
		if herr := <-hashDone; err == nil && herr != nil {
			err = herr
		}
	}
	if wait != nil {
		if werr := wait(); err == nil && werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
			err = fmt.Errorf("%s: %w", f.name, werr)
		}
	}
	return id, err
}

// record writes the drift record: parents are the reference's and the
// current data's records and the model version.
func record(ctx context.Context, r *workspace.Repo, rc *lineage.Recorder, rep *Report) (objects.ID, error) {
	rec := &lineage.Record{Type: lineage.TypeDrift, Name: rep.Name, Model: rep.Model, Drift: &rep.Drift, Status: "no-drift"}
	if rep.Drift.Detected {
		rec.Status = "drift" // what dv status --stale reads
	}
	ref, cur := rep.Reference, rep.Current
	rec.Reference, rec.Current = &ref, &cur
	for _, p := range []objects.ID{ref.Record, cur.Record, rep.Model} {
		if !p.IsZero() {
			rec.Parents = append(rec.Parents, p)
		}
	}
	return rc.Write(ctx, rec, lineage.RefFor(lineage.TypeDrift, rep.Name))
}

// linkPointer names the version record of a file on disk when it is
// tracked and unchanged since dv add (its content id is the pointer's).
func linkPointer(r *workspace.Repo, p string, io *lineage.IO) {
	rel, err := r.Rel(p)
	if err != nil {
		return
	}
	ptr, err := pointer.Read(r.Abs(rel) + pointer.Ext)
	if err == nil && ptr.OID == io.Data && !ptr.Record.IsZero() {
		io.Record = ptr.Record
	}
}
