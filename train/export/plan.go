package export

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train"
	"github.com/dv-ml/dv/train/registry"
)

// ErrMissingData means some of the model's data is not in the local store.
var ErrMissingData = errors.New("model data not in the local store")

// MissingError names the objects of a model's data that the store lacks.
// It matches ErrMissingData.
type MissingError struct {
	Model   string
	Missing []objects.ID
}

func (e *MissingError) Error() string {
	shown := make([]string, 0, 3)
	for i, id := range e.Missing {
		if i == 3 {
			shown = append(shown, fmt.Sprintf("and %d more", len(e.Missing)-3))
			break
		}
		shown = append(shown, id.Short())
	}
	return fmt.Sprintf("%s: %d object(s) of its data are not in the local store (%s); run dv pull to fetch them",
		e.Model, len(e.Missing), strings.Join(shown, ", "))
}

// Is makes errors.Is(err, ErrMissingData) true.
func (e *MissingError) Is(target error) bool { return target == ErrMissingData }

// plan is what an export writes: the manifest (digests still empty) and
// where each file's content is.
type plan struct {
	m     *Manifest
	files []planFile // sorted by path, as m.Files
	epoch time.Time  // mtime of every entry, created time
	tag   string     // v<N>
	src   string     // org.opencontainers.image.source
}

type planFile struct {
	File                      // digests filled in as it is written
	chunks []objects.ChunkRef // its content in the store
	onData func(int64)        // progress: bytes written, may be nil
}

// resolveModel finds the model version a user names, by the one grammar
// of dv's names (registry.Resolve): MODEL, MODEL@ALIAS, MODEL@vN, an id.
func resolveModel(ctx context.Context, r *workspace.Repo, rs *refs.Store, target string) (objects.ID, *lineage.Record, string, error) {
	t, err := registry.Resolve(ctx, r, rs, target)
	if err != nil {
		return objects.ID{}, nil, "", err
	}
	rec, err := lineage.Load(ctx, r.Store, t.ID)
	if err != nil {
		return objects.ID{}, nil, "", fmt.Errorf("%s: %w", target, err)
	}
	if rec.Type != lineage.TypeModel {
		return objects.ID{}, nil, "", fmt.Errorf("%s: %w (it is a %s record)", target, errNotModel, rec.Type)
	}
	return t.ID, rec, t.Alias, nil
}

// chain returns the version records of a model, newest first, from id.
func chain(ctx context.Context, s *objects.Store, id objects.ID) ([]objects.ID, error) {
	var out []objects.ID
	seen := map[objects.ID]bool{}
	for cur := id; !cur.IsZero(); {
		if seen[cur] {
			return nil, fmt.Errorf("record %s: version history loops", cur.Short())
		}
		seen[cur] = true
		out = append(out, cur)
		rec, err := lineage.Load(ctx, s, cur)
		if err != nil {
			return nil, err
		}
		cur = rec.Previous
	}
	return out, nil
}

// newPlan builds the manifest of record id and checks that every object of
// its data is in the store.
func newPlan(ctx context.Context, r *workspace.Repo, rs *refs.Store, id objects.ID, rec *lineage.Record, opts *Options) (*plan, error) {
	number := rec.Number
	if number == 0 { // written before versions were numbered
		versions, err := chain(ctx, r.Store, id)
		if err != nil {
			return nil, err
		}
		number = len(versions)
	}
	name := rec.Name
	if name == "" {
		name = rec.Path
	}
	label := fmt.Sprintf("model %s v%d", name, number)
	epoch := rec.Time.UTC().Truncate(time.Second)
	if opts.Epoch != nil {
		epoch = opts.Epoch.UTC().Truncate(time.Second)
	}
	m := &Manifest{Version: ManifestVersion, Kind: bundleKind, DV: opts.DVVersion,
		Model: ModelInfo{Name: name, Number: number, Record: id, Path: rec.Path, Data: rec.Data,
			Size: rec.Size, Time: rec.Time.UTC(), Who: rec.Who, Commit: rec.Commit, Dirty: rec.Dirty,
			Desc: rec.Desc, Meta: rec.Meta, Created: epoch}}
	if mt, err := train.MetricsOf(ctx, r.Store, id); err == nil && len(mt.Metrics) > 0 {
		m.Metrics = mt.Metrics
	}
	var err error
	if m.Aliases, m.Promotions, err = holdings(ctx, r.Store, rs, name, id); err != nil {
		return nil, err
	}
	m.Alias = opts.alias
	if m.Lineage, err = lineageOf(ctx, r.Store, rec); err != nil {
		return nil, err
	}
	p := &plan{m: m, epoch: epoch, tag: fmt.Sprintf("v%d", number), src: opts.Source}
	var missing []objects.ID
	if err := p.collect(ctx, r.Store, rec, &missing); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	if len(missing) > 0 {
		return nil, &MissingError{Model: label, Missing: missing}
	}
	for i := range p.files {
		p.files[i].onData = opts.OnData
	}
	return p, nil
}

// holdings lists the aliases of model name whose holder is id (by the
// registry's event chain), with the event that gave each.
func holdings(ctx context.Context, s *objects.Store, rs *refs.Store, name string, id objects.ID) ([]string, []Promotion, error) {
	names, _, err := rs.List()
	if err != nil {
		return nil, nil, err
	}
	prefix := registry.AliasRef(name, "")
	var aliases []string
	var events []Promotion
	for _, n := range names {
		alias, ok := strings.CutPrefix(n, prefix)
		if !ok || strings.Contains(alias, "/") {
			continue
		}
		h, err := registry.HolderOf(ctx, s, rs, name, alias)
		if err != nil {
			return nil, nil, err
		}
		if h.Version != id || h.Event.IsZero() {
			continue
		}
		ev, err := lineage.Load(ctx, s, h.Event)
		if err != nil {
			return nil, nil, fmt.Errorf("event %s: %w", h.Event.Short(), err)
		}
		pr := Promotion{Event: h.Event, Alias: alias, Time: ev.Time.UTC(), Who: person(ev.Who), Commit: ev.Commit}
		if p := ev.Promotion; p != nil {
			pr.Decision, pr.Seq, pr.Reason, pr.From, pr.FromNumber = p.Decision, p.Seq, p.Reason, p.From, p.FromNumber
		}
		aliases = append(aliases, alias)
		events = append(events, pr)
	}
	return aliases, events, nil
}

func person(p lineage.Person) string {
	switch {
	case p.Email == "":
		return p.Name
	case p.Name == "":
		return "<" + p.Email + ">"
	}
	return p.Name + " <" + p.Email + ">"
}

// lineageOf summarises the run that made rec (nil when there is none).
func lineageOf(ctx context.Context, s *objects.Store, rec *lineage.Record) (*Lineage, error) {
	if rec.Run.IsZero() {
		return nil, nil
	}
	run, err := lineage.Load(ctx, s, rec.Run)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", rec.Run.Short(), err)
	}
	l := &Lineage{Run: rec.Run, RunName: run.Name, Command: run.Command, Params: run.Params,
		Commit: run.Commit, Dirty: run.Dirty, CodeTree: run.CodeTree, Start: run.Start.UTC(), End: run.End.UTC()}
	if run.Env != nil {
		l.Env = map[string]string{"os": run.Env.OS, "arch": run.Env.Arch}
		for k, v := range run.Env.Versions {
			l.Env[k] = v
		}
	}
	for _, in := range run.Inputs {
		i := Input{Path: in.Path, Data: in.Data, Record: in.Record}
		if !in.Record.IsZero() {
			if ir, err := lineage.Load(ctx, s, in.Record); err == nil {
				i.Name, i.Type = ir.Name, ir.Type
			}
		}
		l.Inputs = append(l.Inputs, i)
	}
	return l, nil
}

// collect lists the files of rec's data with their chunks, noting every
// object the store lacks.
func (p *plan) collect(ctx context.Context, s *objects.Store, rec *lineage.Record, missing *[]objects.ID) error {
	loc, ok := s.Lookup(rec.Data)
	if !ok {
		*missing = append(*missing, rec.Data)
		return nil
	}
	switch loc.Type {
	case objects.TypeTree:
		p.m.Model.Type = objects.EntryDir
		if err := p.walk(ctx, s, rec.Data, ModelDir, missing); err != nil {
			return err
		}
	default:
		p.m.Model.Type = objects.EntryFile
		base := path.Base(rec.Path)
		if objects.ValidName(base) != nil {
			base = "model.bin"
		}
		if err := p.addFile(ctx, s, ModelDir+"/"+base, objects.TreeEntry{ID: rec.Data, Size: rec.Size}, missing); err != nil {
			return err
		}
	}
	sort.Slice(p.files, func(i, j int) bool { return p.files[i].Path < p.files[j].Path })
	return nil
}

func (p *plan) walk(ctx context.Context, s *objects.Store, id objects.ID, dir string, missing *[]objects.ID) error {
	if !s.Has(id) {
		*missing = append(*missing, id)
		return nil
	}
	b, err := s.LoadType(ctx, id, objects.TypeTree)
	if err != nil {
		return err
	}
	t, err := objects.DecodeTree(b)
	if err != nil {
		return &objects.CorruptError{What: "tree", Name: id.String(), Reason: err.Error()}
	}
	if len(t.Entries) == 0 && dir != ModelDir {
		p.m.Dirs = append(p.m.Dirs, dir)
	}
	for _, e := range t.Entries {
		rel := dir + "/" + e.Name
		switch e.Type {
		case objects.EntryDir:
			if err := p.walk(ctx, s, e.ID, rel, missing); err != nil {
				return err
			}
		case objects.EntryFile:
			if err := p.addFile(ctx, s, rel, e, missing); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is a %s: a bundle carries regular files only", strings.TrimPrefix(rel, ModelDir+"/"), e.Type)
		}
	}
	return nil
}

func (p *plan) addFile(ctx context.Context, s *objects.Store, rel string, e objects.TreeEntry, missing *[]objects.ID) error {
	f := File{Path: rel, Size: e.Size, Mode: modeString(e.Exec), ID: e.ID}
	chunks, size, err := s.FileChunks(ctx, e.ID)
	switch {
	case errors.Is(err, objects.ErrNotFound):
		*missing = append(*missing, e.ID)
	case err != nil:
		return err
	case size != e.Size:
		return &objects.CorruptError{What: "tree entry", Name: rel, Reason: fmt.Sprintf("size %d, its chunks add up to %d", e.Size, size)}
	}
	for _, c := range chunks {
		if !s.Has(c.ID) {
			*missing = append(*missing, c.ID)
		}
	}
	p.files = append(p.files, planFile{File: f, chunks: chunks})
	return nil
}
