package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
)

// ErrAmbiguous means a name or id prefix names several records; the
// error lists them.
var ErrAmbiguous = errors.New("ambiguous name")

// ErrUnknownName means a name resolves to nothing.
var ErrUnknownName = errors.New("not a model, dataset, alias, version, ref, tracked path or record id")

// Target is what a name resolved to.
type Target struct {
	ID     objects.ID // the record
	How    string     // path, ref, alias, number, latest, id
	Ref    string     // the ref that named it (models/crop, aliases/crop/production)
	Path   string     // the tracked path, when named by one
	Model  string     // the model, for crop@ALIAS, crop@vN and a model's name
	Alias  string     // the alias, for crop@ALIAS
	Number int        // the version number, when known
}

// Primary namespaces: a bare name found in more than one is ambiguous.
var primary = []string{"models/", "datasets/", "labels/"}

// Secondary namespaces, tried in order when no primary one has the name.
var secondary = []string{"runs/", "imports/", "metrics/"}

// Resolve finds the record a user names, by the one grammar of dv's names,
// in this order:
//
//  1. NAME@vN: version N of model NAME; NAME@ALIAS: the version ALIAS gives.
//  2. A tracked path (one with a pointer file): its pointer's record.
//  3. A ref name (models/crop, runs/prep, aliases/crop/production).
//  4. A bare name: the newest version under models/, datasets/ or labels/
//     (found under two, it is ambiguous: the error lists them), else under
//     runs/, imports/, metrics/.
//  5. A record id, or a prefix of one of 8+ hex digits naming exactly one
//     object (several: ambiguous, listed).
func Resolve(ctx context.Context, r *workspace.Repo, rs *refs.Store, name string) (Target, error) {
	if name == "" {
		return Target{}, errors.New("no name given")
	}
	if i := strings.LastIndexByte(name, '@'); i > 0 && i < len(name)-1 {
		t, ok, err := resolveAt(ctx, r.Store, rs, name[:i], name[i+1:])
		if ok || err != nil {
			return t, err
		}
	}
	if t, ok, err := resolvePath(r, name); ok || err != nil {
		return t, err
	}
	if t, ok, err := resolveRef(ctx, r.Store, rs, name); ok || err != nil {
		return t, err
	}
	if t, ok, err := resolveBare(ctx, r.Store, rs, name); ok || err != nil {
		return t, err
	}
	if isHex(name) && len(name) >= 8 {
		id, err := resolveID(r.Store, name)
		if err == nil {
			return Target{ID: id, How: "id"}, nil
		}
		if !errors.Is(err, objects.ErrNotFound) {
			return Target{}, err
		}
	}
	return Target{}, fmt.Errorf("%s: %w", name, ErrUnknownName)
}

// ResolveID is Resolve returning only the record's id.
func ResolveID(ctx context.Context, r *workspace.Repo, rs *refs.Store, name string) (objects.ID, error) {
	t, err := Resolve(ctx, r, rs, name)
	return t.ID, err
}

// resolveAt resolves MODEL@vN and MODEL@ALIAS; ok is false when MODEL is
// no model (the name may still be a path with an '@').
func resolveAt(ctx context.Context, s *objects.Store, rs *refs.Store, model, suffix string) (Target, bool, error) {
	model = strings.TrimPrefix(model, ModelsPrefix)
	if refs.ValidName(ModelRef(model)) != nil {
		return Target{}, false, nil
	}
	if _, err := rs.Get(ModelRef(model)); errors.Is(err, refs.ErrNotFound) {
		return Target{}, false, nil
	} else if err != nil {
		return Target{}, true, err
	}
	if m := versionRE.FindStringSubmatch(suffix); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 {
			return Target{}, true, fmt.Errorf("%s@%s: versions are numbered from v1", model, suffix)
		}
		id, err := VersionNumber(ctx, s, rs, model, n)
		if err != nil {
			return Target{}, true, err
		}
		return Target{ID: id, How: "number", Ref: ModelRef(model), Model: model, Number: n}, true, nil
	}
	if err := ValidAlias(suffix); err != nil {
		return Target{}, true, fmt.Errorf("%s@%s: %w", model, suffix, err)
	}
	h, err := HolderOf(ctx, s, rs, model, suffix)
	if err != nil {
		return Target{}, true, err
	}
	if h.Version.IsZero() {
		return Target{}, true, fmt.Errorf("%s@%s: %w: no version holds alias %s yet (dv promote %s --to %s)", model, suffix, ErrNoHolder, suffix, model, suffix)
	}
	return Target{ID: h.Version, How: "alias", Ref: AliasRef(model, suffix), Model: model, Alias: suffix, Number: h.Number}, true, nil
}

// resolvePath resolves a tracked path by its pointer file.
func resolvePath(r *workspace.Repo, name string) (Target, bool, error) {
	rel, err := r.Rel(name)
	if err != nil {
		return Target{}, false, nil
	}
	p, err := pointer.Read(r.Abs(rel) + pointer.Ext)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid):
		return Target{}, false, nil
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) && errors.Is(pe.Err, syscall.ENOTDIR) {
			return Target{}, false, nil
		}
		return Target{}, true, err
	case p.Record.IsZero():
		return Target{}, true, fmt.Errorf("%s: has no record yet (run dv add %s)", name, name)
	}
	return Target{ID: p.Record, How: "path", Path: rel}, true, nil
}

// resolveRef resolves a full ref name.
func resolveRef(ctx context.Context, s *objects.Store, rs *refs.Store, name string) (Target, bool, error) {
	if !strings.Contains(name, "/") || refs.ValidName(name) != nil {
		return Target{}, false, nil
	}
	id, err := rs.Get(name)
	if errors.Is(err, refs.ErrNotFound) {
		return Target{}, false, nil
	}
	if err != nil {
		return Target{}, true, err
	}
	t := Target{ID: id, How: "ref", Ref: name}
	if rest, ok := strings.CutPrefix(name, AliasesPrefix); ok {
		// An alias ref names the event that gave it: the version is its To.
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			return t, true, nil
		}
		t, ok, err := resolveAt(ctx, s, rs, rest[:i], rest[i+1:])
		if !ok && err == nil {
			err = fmt.Errorf("%s: names no model", name)
		}
		return t, true, err
	}
	if m, ok := strings.CutPrefix(name, ModelsPrefix); ok {
		t.Model = m
	}
	return t, true, nil
}

// resolveBare resolves a bare name in the primary, then secondary,
// namespaces.
func resolveBare(ctx context.Context, s *objects.Store, rs *refs.Store, name string) (Target, bool, error) {
	part := refs.SafeRefPart(name)
	var found []Target
	for _, ns := range primary {
		ref := ns + part
		if refs.ValidName(ref) != nil {
			continue
		}
		id, err := rs.Get(ref)
		if errors.Is(err, refs.ErrNotFound) {
			continue
		}
		if err != nil {
			return Target{}, true, err
		}
		t := Target{ID: id, How: "latest", Ref: ref}
		if ns == ModelsPrefix {
			t.Model = name
		}
		found = append(found, t)
	}
	switch len(found) {
	case 1:
		return found[0], true, nil
	case 0:
	default:
		names := make([]string, len(found))
		for i, t := range found {
			names[i] = t.Ref
		}
		return Target{}, true, fmt.Errorf("%s: %w: it names %s; use the full name", name, ErrAmbiguous, strings.Join(names, " and "))
	}
	for _, ns := range secondary {
		ref := ns + part
		if refs.ValidName(ref) != nil {
			continue
		}
		if id, err := rs.Get(ref); err == nil {
			return Target{ID: id, How: "latest", Ref: ref}, true, nil
		} else if !errors.Is(err, refs.ErrNotFound) {
			return Target{}, true, err
		}
	}
	return Target{}, false, nil
}

// resolveID expands an id prefix; several matches are an error listing
// them (records first).
func resolveID(s *objects.Store, prefix string) (objects.ID, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) > 2*objects.IDSize {
		return objects.ID{}, fmt.Errorf("%s: %w", prefix, objects.ErrNotFound)
	}
	var found []objects.Loc
	s.Each(func(l objects.Loc) {
		if strings.HasPrefix(l.ID.String(), prefix) {
			found = append(found, l)
		}
	})
	switch len(found) {
	case 0:
		return objects.ID{}, fmt.Errorf("%s: %w", prefix, objects.ErrNotFound)
	case 1:
		return found[0].ID, nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID.String() < found[j].ID.String() })
	names := make([]string, 0, len(found))
	for i, l := range found {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(found)-10))
			break
		}
		names = append(names, fmt.Sprintf("%s (%s)", l.ID, l.Type))
	}
	return objects.ID{}, fmt.Errorf("%s: %w: %d objects match: %s; give more digits", prefix, ErrAmbiguous, len(found), strings.Join(names, ", "))
}

func isHex(s string) bool {
	return strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

// VersionNumber returns version n of model. Versions are numbered when
// they are written (lineage.Record.Number), so this walks back from the
// newest only as far as n.
func VersionNumber(ctx context.Context, s *objects.Store, rs *refs.Store, model string, n int) (objects.ID, error) {
	head, err := rs.Get(ModelRef(model))
	if err != nil {
		return objects.ID{}, fmt.Errorf("model %s: %w", model, err)
	}
	id, rec, err := lineage.Seek(ctx, s, head, lineage.VersionNumber, func(r *lineage.Record) bool { return r.Number <= n })
	if err != nil {
		return objects.ID{}, fmt.Errorf("model %s: %w", model, err)
	}
	if rec != nil && rec.Number == n {
		return id, nil
	}
	if head, err := lineage.Load(ctx, s, head); err == nil && head.Number < n {
		return objects.ID{}, fmt.Errorf("%s@v%d: %w: model %s has %d versions", model, n, ErrUnknownName, model, head.Number)
	}
	return objects.ID{}, fmt.Errorf("%s@v%d: %w: no version numbered %d", model, n, ErrUnknownName, n)
}
