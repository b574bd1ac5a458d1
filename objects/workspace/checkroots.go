package workspace

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/dv-ml/dv/objects"
)

// RootProblem is damage in what a root of the project needs: a ref whose
// record, or a tracked path whose data or record, is damaged or missing.
type RootProblem struct {
	Kind   string     // "ref" or "path"
	Name   string     // the ref name, or the tracked path
	ID     objects.ID // the record or data concerned (zero: the ref itself)
	Reason string     // for people
	Err    error      // the cause, if any
}

func (p RootProblem) Error() string { return fmt.Sprintf("%s %s: %s", p.Kind, p.Name, p.Reason) }

// Unwrap returns the cause.
func (p RootProblem) Unwrap() error { return p.Err }

// NotHere is a tracked path whose data is partly absent from the store
// (never fetched): not damage.
type NotHere struct {
	Path    string `json:"path"`
	Objects int    `json:"objects"`
}

// CheckRoots checks what the project's roots need: every ref's record and
// what it holds must be present and sound (refs move only after their data
// is stored); a tracked path's data may be partly absent (never fetched),
// which is reported in NotHere, but what is there must be sound. An error
// is one that is not damage (a file that cannot be read).
func (r *Repo) CheckRoots(ctx context.Context) ([]RootProblem, []NotHere, error) {
	var problems []RootProblem
	names, ids, err := r.Refs().List()
	if err != nil {
		problems = append(problems, RootProblem{Kind: "ref", Name: "?", Reason: err.Error(), Err: err})
	}
	for _, n := range names {
		id := ids[n]
		if !r.Store.Has(id) {
			problems = append(problems, RootProblem{Kind: "ref", Name: n, ID: id, Reason: fmt.Sprintf("names record %s, which the store lacks", id.Short())})
		} else if err := r.Store.Complete(ctx, id); err != nil {
			if !isDamage(err) {
				return nil, nil, err
			}
			problems = append(problems, RootProblem{Kind: "ref", Name: n, ID: id, Reason: err.Error(), Err: err})
		}
	}
	ptrs, err := r.ReadPointers(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	paths := make([]string, 0, len(ptrs))
	for p := range ptrs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := []NotHere{}
	for _, p := range paths {
		ptr := ptrs[p]
		n, err := r.Store.Missing(ctx, ptr.OID)
		if err != nil && !isDamage(err) {
			return nil, nil, err
		}
		if err != nil {
			problems = append(problems, RootProblem{Kind: "path", Name: p, ID: ptr.OID, Reason: err.Error(), Err: err})
		} else if n > 0 {
			out = append(out, NotHere{p, n})
		}
		if rec := ptr.Record; !rec.IsZero() {
			if err := r.Store.Complete(ctx, rec); err != nil {
				if !isDamage(err) {
					return nil, nil, err
				}
				problems = append(problems, RootProblem{Kind: "path", Name: p, ID: rec, Reason: "its record: " + err.Error(), Err: err})
			}
		}
	}
	return problems, out, nil
}

func isDamage(err error) bool {
	return errors.Is(err, objects.ErrCorrupt) || errors.Is(err, objects.ErrNotFound)
}
