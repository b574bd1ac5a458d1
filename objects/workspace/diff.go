package workspace

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/dv-ml/dv/objects"
)

// Change operations.
const (
	OpAdded    = "added"
	OpDeleted  = "deleted"
	OpModified = "modified"
	OpRenamed  = "renamed"
)

// Change is one file that differs between two snapshots.
type Change struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	From string `json:"from,omitempty"` // renamed: the old path
	id   objects.ID
}

// Diff lists the files that differ from a to b, under every tracked path
// of either. A deleted and an added file with the same content are
// reported as one rename.
func (r *Repo) Diff(ctx context.Context, a, b *Snapshot) ([]Change, error) {
	d := &differ{r: r, a: a, b: b}
	paths := map[string]bool{}
	for p := range a.Entries {
		paths[p] = true
	}
	for p := range b.Entries {
		paths[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		ea, oka := a.Entries[p]
		eb, okb := b.Entries[p]
		var pa, pb *objects.TreeEntry
		if oka {
			pa = &ea
		}
		if okb {
			pb = &eb
		}
		if err := d.entry(ctx, p, pa, pb); err != nil {
			return nil, err
		}
	}
	return pairRenames(d.out), nil
}

type differ struct {
	r    *Repo
	a, b *Snapshot
	out  []Change
}

func (d *differ) tree(ctx context.Context, s *Snapshot, id objects.ID) (*objects.Tree, error) {
	if t, ok := s.trees[id]; ok {
		return t, nil
	}
	return d.r.LoadTree(ctx, id)
}

// LoadTree reads a tree from the store.
func (r *Repo) LoadTree(ctx context.Context, id objects.ID) (*objects.Tree, error) {
	st, err := r.OpenStore()
	if err != nil {
		return nil, err
	}
	b, err := st.LoadType(ctx, id, objects.TypeTree)
	if err != nil {
		return nil, err
	}
	t, err := objects.DecodeTree(b)
	if err != nil {
		return nil, &objects.CorruptError{What: "tree", Name: id.String(), Reason: err.Error(), Err: err}
	}
	return t, nil
}

func (d *differ) entry(ctx context.Context, p string, a, b *objects.TreeEntry) error {
	if a != nil && b != nil && sameEntry(*a, *b) {
		return nil
	}
	if a != nil && b != nil && a.Type == objects.EntryDir && b.Type == objects.EntryDir {
		ta, err := d.tree(ctx, d.a, a.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		tb, err := d.tree(ctx, d.b, b.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return d.trees(ctx, p, ta, tb)
	}
	if a != nil && b != nil && a.Type == b.Type {
		d.out = append(d.out, Change{Op: OpModified, Path: p})
		return nil
	}
	if a != nil {
		if err := d.all(ctx, d.a, p, *a, OpDeleted); err != nil {
			return err
		}
	}
	if b != nil {
		return d.all(ctx, d.b, p, *b, OpAdded)
	}
	return nil
}

func (d *differ) trees(ctx context.Context, p string, ta, tb *objects.Tree) error {
	i, j := 0, 0
	for i < len(ta.Entries) || j < len(tb.Entries) {
		switch {
		case j == len(tb.Entries) || (i < len(ta.Entries) && ta.Entries[i].Name < tb.Entries[j].Name):
			if err := d.entry(ctx, p+"/"+ta.Entries[i].Name, &ta.Entries[i], nil); err != nil {
				return err
			}
			i++
		case i == len(ta.Entries) || tb.Entries[j].Name < ta.Entries[i].Name:
			if err := d.entry(ctx, p+"/"+tb.Entries[j].Name, nil, &tb.Entries[j]); err != nil {
				return err
			}
			j++
		default:
			if err := d.entry(ctx, p+"/"+ta.Entries[i].Name, &ta.Entries[i], &tb.Entries[j]); err != nil {
				return err
			}
			i++
			j++
		}
	}
	return nil
}

// all reports every file below e as op.
func (d *differ) all(ctx context.Context, s *Snapshot, p string, e objects.TreeEntry, op string) error {
	if e.Type != objects.EntryDir {
		d.out = append(d.out, Change{Op: op, Path: p, id: e.ID})
		return nil
	}
	t, err := d.tree(ctx, s, e.ID)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for _, c := range t.Entries {
		if err := d.all(ctx, s, p+"/"+c.Name, c, op); err != nil {
			return err
		}
	}
	return nil
}

// pairRenames turns a deletion and an addition of the same content into a
// rename, then sorts by path.
func pairRenames(in []Change) []Change {
	deleted := map[objects.ID][]int{}
	for i, c := range in {
		if c.Op == OpDeleted && !c.id.IsZero() {
			deleted[c.id] = append(deleted[c.id], i)
		}
	}
	drop := map[int]bool{}
	for i, c := range in {
		if c.Op != OpAdded || c.id.IsZero() || len(deleted[c.id]) == 0 {
			continue
		}
		k := deleted[c.id][0]
		deleted[c.id] = deleted[c.id][1:]
		drop[k] = true
		in[i] = Change{Op: OpRenamed, Path: c.Path, From: in[k].Path}
	}
	out := in[:0]
	for i, c := range in {
		if !drop[i] {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
