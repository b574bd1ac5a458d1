package lineage

import (
	"context"
	"fmt"

	"github.com/dv-ml/dv/objects"
)

// Link is one record of a chain with its id.
type Link struct {
	ID     objects.ID
	Record *Record
}

// LoadChain follows Previous from head, newest first, until stop returns
// true for a record (it is included) or the chain ends. Long chains are
// read by decoding the store's records in parallel, as load does. A record
// the chain names that is absent or damaged is an error naming it and the
// record that names it.
func LoadChain(ctx context.Context, s *objects.Store, head objects.ID, stop func(*Record) bool) ([]Link, error) {
	var out []Link
	var pre map[objects.ID]loaded
	by := objects.ID{}
	for id := head; !id.IsZero(); {
		var rec *Record
		var err error
		if p, ok := pre[id]; ok {
			rec, err = p.rec, p.err
		} else if _, ok := s.Lookup(id); !ok {
			err = fmt.Errorf("%w: record %s", objects.ErrNotFound, id)
		} else {
			rec, err = loadRecord(ctx, s, id)
		}
		if err != nil {
			if !by.IsZero() {
				return out, fmt.Errorf("record %s (previous of %s): %w", id.Short(), by.Short(), err)
			}
			return out, fmt.Errorf("record %s: %w", id.Short(), err)
		}
		out = append(out, Link{id, rec})
		if stop != nil && stop(rec) {
			break
		}
		if pre == nil && len(out) == lazyLimit {
			if pre, err = prefetch(ctx, s); err != nil {
				return out, err
			}
		}
		by, id = id, rec.Previous
	}
	return out, nil
}
