package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// Decisions recorded in promotion events.
const (
	DecisionPromoted   = "promoted"
	DecisionRejected   = "rejected"
	DecisionForced     = "forced"
	DecisionRolledBack = "rolled-back"
)

// ErrNoHolder means no version holds the alias.
var ErrNoHolder = errors.New("alias has no holder")

// Holding is who holds an alias.
type Holding struct {
	Model   string     `json:"model"`
	Alias   string     `json:"alias"`
	Event   objects.ID `json:"event,omitzero"`   // the event that gave the alias (zero: no holder)
	Version objects.ID `json:"version,omitzero"` // the version holding it
	Number  int        `json:"number,omitempty"` // its number
	// Lagging is set when the alias ref does not point at Event: a dv
	// killed between appending the event and moving the alias. The chain
	// is what counts; the next decision on the alias moves the ref.
	Lagging bool `json:"lagging,omitempty"`
}

// HolderOf returns who holds model's alias, by the head of the model's
// event chain (three records read, however long the chain).
func HolderOf(ctx context.Context, s *objects.Store, rs *refs.Store, model, alias string) (Holding, error) {
	h := Holding{Model: model, Alias: alias}
	head, err := rs.Get(EventsRef(model))
	if errors.Is(err, refs.ErrNotFound) {
		if id, err := rs.Get(AliasRef(model, alias)); err == nil {
			return h, &objects.CorruptError{What: "alias", Name: AliasRef(model, alias),
				Reason: fmt.Sprintf("points at %s but model %s has no events (%s)", id.Short(), model, EventsRef(model))}
		}
		return h, nil
	}
	if err != nil {
		return h, err
	}
	ev, err := loadEvent(ctx, s, head, model)
	if err != nil {
		return h, err
	}
	return holding(ctx, s, rs, h, HoldersAfter(head, ev)[alias])
}

// Moves reports whether a decision moves its alias.
func Moves(decision string) bool {
	return decision == DecisionPromoted || decision == DecisionForced || decision == DecisionRolledBack
}

// HoldersAfter returns the event that gives each alias after event id
// (rec): the holders it records for the other aliases, and itself for its
// own alias when it moved it (an event cannot name its own id).
func HoldersAfter(id objects.ID, rec *lineage.Record) map[string]objects.ID {
	p := rec.Promotion
	out := make(map[string]objects.ID, len(p.Holders)+1)
	for a, e := range p.Holders {
		out[a] = e
	}
	if Moves(p.Decision) {
		out[p.Alias] = id
	}
	return out
}

// holding fills h from the event that gave the alias (zero: none).
func holding(ctx context.Context, s *objects.Store, rs *refs.Store, h Holding, event objects.ID) (Holding, error) {
	cur, err := rs.Get(AliasRef(h.Model, h.Alias))
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return h, err
	}
	h.Lagging = cur != event
	if event.IsZero() {
		return h, nil
	}
	ev, err := loadEvent(ctx, s, event, h.Model)
	if err != nil {
		return h, err
	}
	h.Event, h.Version, h.Number = event, ev.Promotion.To, ev.Promotion.ToNumber
	return h, nil
}

// loadEvent loads a promotion event of model and checks its type.
func loadEvent(ctx context.Context, s *objects.Store, id objects.ID, model string) (*lineage.Record, error) {
	r, err := lineage.Load(ctx, s, id)
	if err != nil {
		return nil, fmt.Errorf("event %s of %s: %w", id.Short(), model, err)
	}
	if r.Type != lineage.TypePromotion || r.Promotion == nil {
		return nil, &objects.CorruptError{What: "event", Name: id.String(),
			Reason: fmt.Sprintf("a %s record where %s's event chain has a promotion", r.Type, model)}
	}
	return r, nil
}
