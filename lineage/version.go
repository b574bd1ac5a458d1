package lineage

import (
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// Version returns the record of a new version of the tracked data at rel,
// described by its pointer p (prev: the pointer it replaces, or nil), made
// from parents, and the ref it moves (datasets/, labels/ or models/ and the
// pointer's name, else the path). A model version holds its data, as a
// registry does; dataset and labels data are held by the pointer files in
// git, so gc may drop old versions.
func Version(rel string, p, prev *pointer.Pointer, parents ...objects.ID) (*Record, string) {
	typ := TypeDataset
	switch p.Kind {
	case "labels":
		typ = TypeLabels
	case "model":
		typ = TypeModel
	}
	rec := &Record{Type: typ, Path: rel, Name: p.Name, Kind: p.Kind, Data: p.OID, Size: p.Size,
		Files: p.Files, Desc: p.Desc, Meta: p.Meta}
	for _, id := range parents {
		if !id.IsZero() {
			rec.Parents = append(rec.Parents, id)
		}
	}
	if typ == TypeModel {
		rec.Objects = []objects.ID{p.OID}
	}
	if prev != nil && !prev.Record.IsZero() {
		rec.Previous = prev.Record
	}
	name := p.Name
	if name == "" {
		name = rel
	}
	return rec, RefFor(typ, name)
}
