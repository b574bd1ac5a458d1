package train

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
)

// Resolve finds the record a user names: a ref (runs/prep, models/clf),
// a name under one of the prefixes tried in order (prefixes such as
// "models/", "runs/"), a tracked path (its pointer's record), or a record
// id or unambiguous prefix of one.
func Resolve(r *workspace.Repo, rs *refs.Store, target string, prefixes ...string) (objects.ID, error) {
	if target == "" {
		return objects.ID{}, errors.New("no target named")
	}
	for _, name := range append([]string{""}, prefixes...) {
		name += target
		if refs.ValidName(name) != nil {
			continue
		}
		id, err := rs.Get(name)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, refs.ErrNotFound) {
			return objects.ID{}, err
		}
	}
	if rel, err := r.Rel(target); err == nil {
		p, err := pointer.Read(r.Abs(rel) + pointer.Ext)
		switch {
		case err == nil && p.Record.IsZero():
			return objects.ID{}, fmt.Errorf("%s: has no record yet (run dv add %s)", target, target)
		case err == nil:
			return p.Record, nil
		case !errors.Is(err, fs.ErrNotExist):
			return objects.ID{}, err
		}
	}
	if len(target) >= 8 && strings.Trim(strings.ToLower(target), "0123456789abcdef") == "" {
		if id, err := r.Store.Resolve(target); err == nil {
			return id, nil
		} else if !errors.Is(err, objects.ErrNotFound) {
			return objects.ID{}, fmt.Errorf("%s: %w", target, err)
		}
	}
	return objects.ID{}, fmt.Errorf("%s: not a run, model, ref, tracked path or record id", target)
}
