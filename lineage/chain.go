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
	return NewChainReader(s).Chain(ctx, head, stop)
}

// ChainReader reads several chains of one store, decoding the store's
// records at most once.
type ChainReader struct {
	s   *objects.Store
	pre map[objects.ID]loaded
}

// NewChainReader returns a ChainReader of s.
func NewChainReader(s *objects.Store) *ChainReader { return &ChainReader{s: s} }

// Chain is LoadChain, sharing the decoded records between calls.
func (c *ChainReader) Chain(ctx context.Context, head objects.ID, stop func(*Record) bool) ([]Link, error) {
	s := c.s
	var out []Link
	by := objects.ID{}
	for id := head; !id.IsZero(); {
		var rec *Record
		var err error
		if p, ok := c.pre[id]; ok {
			rec, err = p.rec, p.err
		} else if _, ok := s.Lookup(id); !ok && (s.Refresh() != nil || !s.Has(id)) {
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
		if c.pre == nil && len(out) == lazyLimit {
			if c.pre, err = prefetch(ctx, s); err != nil {
				return out, err
			}
		}
		by, id = id, rec.Previous
	}
	return out, nil
}

// VersionNumber is a model version's number in its chain (for Seek).
func VersionNumber(r *Record) int { return r.Number }

// EventNumber is a promotion event's number in its chain (for Seek).
func EventNumber(r *Record) int {
	if r.Promotion == nil {
		return 0
	}
	return r.Promotion.Seq
}

// skipTarget is the number a record numbered n skips to (0: none).
func skipTarget(n int) int { return n & (n - 1) }

// Seek returns the newest record of the numbered chain from head for
// which reached is true, reached being false for the newest records and
// true from some record on (number <= k, time <= t). It follows Skip links
// (checked: a skip that does not land on the number due is ignored) and
// Previous, reading O(log² n) records. A zero id means no record of the
// chain is reached.
func Seek(ctx context.Context, s *objects.Store, head objects.ID, num func(*Record) int, reached func(*Record) bool) (objects.ID, *Record, error) {
	id := head
	for !id.IsZero() {
		r, err := loadRecord(ctx, s, id)
		if err != nil {
			return id, nil, fmt.Errorf("record %s: %w", id.Short(), err)
		}
		if reached(r) {
			return id, r, nil
		}
		next := r.Previous
		if n := num(r); !r.Skip.IsZero() && n > 0 {
			sk, err := loadRecord(ctx, s, r.Skip)
			if err == nil && num(sk) == skipTarget(n) && !reached(sk) {
				next = r.Skip // everything from r down to sk is not reached
			}
		}
		id = next
	}
	return objects.ID{}, nil, nil
}

// SkipFor returns the Skip of a record numbered n appended to the chain
// whose head is prev: the record numbered n&(n-1), or zero.
func SkipFor(ctx context.Context, s *objects.Store, prev objects.ID, n int, num func(*Record) int) (objects.ID, error) {
	t := skipTarget(n)
	if t == 0 || prev.IsZero() {
		return objects.ID{}, nil
	}
	id, r, err := Seek(ctx, s, prev, num, func(r *Record) bool { return num(r) <= t })
	if err != nil || r == nil || num(r) != t {
		return objects.ID{}, err
	}
	return id, nil
}
