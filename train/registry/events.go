package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// ConflictError means another decision moved the alias while this one
// was being made: the candidate was evaluated against a holder that no
// longer holds it. It matches refs.ErrConflict.
type ConflictError struct {
	Model, Alias string
	Now          Holding // who holds it now
}

func (e *ConflictError) Error() string {
	now := "no version"
	if !e.Now.Version.IsZero() {
		now = fmt.Sprintf("v%d (%s)", e.Now.Number, e.Now.Version.Short())
	}
	return fmt.Sprintf("alias %s of %s: %v: another decision gave it to %s meanwhile; run the command again to evaluate against the new holder",
		e.Alias, e.Model, refs.ErrConflict, now)
}

// Is makes a ConflictError match refs.ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == refs.ErrConflict }

// chainHead is a model's newest event and the aliases' holders after it.
type chainHead struct {
	ID      objects.ID
	Rec     *lineage.Record // nil: no events yet
	Holders map[string]objects.ID
}

func readHead(ctx context.Context, s *objects.Store, rs *refs.Store, model string) (chainHead, error) {
	id, err := rs.Get(EventsRef(model))
	if errors.Is(err, refs.ErrNotFound) {
		return chainHead{Holders: map[string]objects.ID{}}, nil
	}
	if err != nil {
		return chainHead{}, err
	}
	rec, err := loadEvent(ctx, s, id, model)
	if err != nil {
		return chainHead{}, err
	}
	return chainHead{ID: id, Rec: rec, Holders: HoldersAfter(id, rec)}, nil
}

// appendEvent appends the decision p on model's alias to the model's
// chain, expecting the alias to be given by the event base (zero: no
// holder). It retries while other aliases' decisions land first, and
// returns a *ConflictError when the alias itself moved. The chain moves
// first, then the alias ref: killed in between, the chain's head still
// says who holds the alias, and the next decision moves the ref.
func appendEvent(ctx context.Context, rc *lineage.Recorder, model string, base objects.ID, p lineage.Promotion) (objects.ID, error) {
	for attempt := 0; ; attempt++ {
		head, err := readHead(ctx, rc.Store, rc.Refs, model)
		if err != nil {
			return objects.ID{}, err
		}
		if head.Holders[p.Alias] != base {
			now, err := holding(ctx, rc.Store, rc.Refs, Holding{Model: model, Alias: p.Alias}, head.Holders[p.Alias])
			if err != nil {
				return objects.ID{}, err
			}
			return objects.ID{}, &ConflictError{Model: model, Alias: p.Alias, Now: now}
		}
		p.Seq = 1
		if head.Rec != nil {
			p.Seq = head.Rec.Promotion.Seq + 1
		}
		p.Holders = map[string]objects.ID{}
		for a, e := range head.Holders {
			if a != p.Alias || !Moves(p.Decision) {
				p.Holders[a] = e
			}
		}
		if len(p.Holders) == 0 {
			p.Holders = nil
		}
		pp := p
		rec := &lineage.Record{Type: lineage.TypePromotion, Name: model, Previous: head.ID, Promotion: &pp}
		if rec.Skip, err = lineage.SkipFor(ctx, rc.Store, head.ID, p.Seq, lineage.EventNumber); err != nil {
			return objects.ID{}, err
		}
		if !p.To.IsZero() {
			rec.Parents = []objects.ID{p.To}
		}
		w := rc.Store.NewWriter()
		id, _, err := rc.Prepare(ctx, w, rec, "")
		if err != nil {
			w.Abort()
			return objects.ID{}, err
		}
		if err := w.Flush(ctx); err != nil {
			return objects.ID{}, err
		}
		err = rc.Refs.CompareAndSwap(ctx, EventsRef(model), head.ID, id)
		if errors.Is(err, refs.ErrConflict) && attempt < 20 {
			continue // another decision landed first: re-read and check the alias
		}
		if err != nil {
			return objects.ID{}, fmt.Errorf("record decision on %s@%s: %w", model, p.Alias, err)
		}
		after := HoldersAfter(id, rec)
		return id, syncAlias(ctx, rc.Store, rc.Refs, model, p.Alias, after[p.Alias])
	}
}

// syncAlias moves the alias ref to the event that gives it (zero: none),
// unless another process has moved it meanwhile, or the chain's head no
// longer gives the alias by event: a later decision (whose own sync moves
// the ref) landed after this one, and a slow sync must not move the ref
// back. The ref is read before the head, so a later decision that syncs
// after the head is read makes the compare-and-swap fail.
func syncAlias(ctx context.Context, s *objects.Store, rs *refs.Store, model, alias string, event objects.ID) error {
	ref := AliasRef(model, alias)
	cur, err := rs.Get(ref)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return err
	}
	if cur == event {
		return nil
	}
	head, err := readHead(ctx, s, rs, model)
	if err != nil {
		return err
	}
	if head.Holders[alias] != event {
		return nil // a later decision gives the alias; it moves the ref
	}
	err = rs.CompareAndSwap(ctx, ref, cur, event)
	if errors.Is(err, refs.ErrConflict) {
		return nil // a later decision moved it; the chain says who holds it
	}
	return err
}
