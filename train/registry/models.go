package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// VersionInfo is one version of a model, for dv models.
type VersionInfo struct {
	ID      objects.ID         `json:"id"`
	Number  int                `json:"number"`
	Time    time.Time          `json:"time"`
	Who     string             `json:"who,omitempty"`
	Commit  string             `json:"commit,omitempty"`
	Data    objects.ID         `json:"data,omitzero"` // the model's files (content or tree id)
	Run     objects.ID         `json:"run,omitzero"`
	Metrics map[string]float64 `json:"metrics"`
	Aliases []string           `json:"aliases,omitempty"` // the aliases it holds
}

// Event is one decision of a model's chain, for dv models and dv log.
type Event struct {
	ID         objects.ID      `json:"id"`
	Seq        int             `json:"seq"`
	Time       time.Time       `json:"time"`
	Who        string          `json:"who,omitempty"`
	Alias      string          `json:"alias"`
	Decision   string          `json:"decision"`
	Reason     string          `json:"reason,omitempty"`
	From       objects.ID      `json:"from,omitzero"`
	FromNumber int             `json:"from_number,omitempty"`
	To         objects.ID      `json:"to,omitzero"`
	ToNumber   int             `json:"to_number,omitempty"`
	Checks     []lineage.Check `json:"checks,omitempty"`
}

// AliasInfo is an alias of a model: its holder, what a deploy script
// needs of it, and its history.
type AliasInfo struct {
	Alias   string     `json:"alias"`
	Version objects.ID `json:"version,omitzero"`
	Number  int        `json:"number,omitempty"`
	Event   objects.ID `json:"event,omitzero"` // the event that gave it
	// Files are the ids the holder's data is stored under (dv export and
	// dv checkout fetch them); LineageRoot is the version record to start
	// dv lineage from.
	Files       []objects.ID `json:"files,omitempty"`
	LineageRoot objects.ID   `json:"lineage_root,omitzero"`
	Lagging     bool         `json:"lagging,omitempty"`
	History     []Event      `json:"history"` // newest first
}

// ModelInfo is one model: versions newest first, aliases, and its whole
// event chain newest first.
type ModelInfo struct {
	Name     string        `json:"name"`
	Versions []VersionInfo `json:"versions"`
	Aliases  []AliasInfo   `json:"aliases"`
	Events   []Event       `json:"events"`
}

// Models lists model (every model when empty) with its versions, aliases
// and their histories.
func Models(ctx context.Context, s *objects.Store, rs *refs.Store, model string) ([]ModelInfo, error) {
	var names []string
	if model != "" {
		if _, err := rs.Get(ModelRef(model)); err != nil {
			return nil, fmt.Errorf("model %s: %w", model, err)
		}
		names = []string{model}
	} else {
		all, _, err := rs.List()
		if err != nil {
			return nil, err
		}
		for _, n := range all {
			if m, ok := strings.CutPrefix(n, ModelsPrefix); ok {
				names = append(names, m)
			}
		}
	}
	cr := lineage.NewChainReader(s)
	out := make([]ModelInfo, 0, len(names))
	for _, name := range names {
		m, err := modelInfo(ctx, cr, s, rs, name)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func modelInfo(ctx context.Context, cr *lineage.ChainReader, s *objects.Store, rs *refs.Store, name string) (ModelInfo, error) {
	m := ModelInfo{Name: name, Versions: []VersionInfo{}, Aliases: []AliasInfo{}, Events: []Event{}}
	head, err := rs.Get(ModelRef(name))
	if err != nil {
		return m, err
	}
	versions, err := cr.Chain(ctx, head, nil)
	if err != nil {
		return m, fmt.Errorf("model %s: %w", name, err)
	}
	events, err := eventChain(ctx, cr, rs, name)
	if err != nil {
		return m, err
	}
	for _, l := range events {
		m.Events = append(m.Events, eventOf(l))
	}
	holders := map[string]objects.ID{}
	if len(events) > 0 {
		holders = HoldersAfter(events[0].ID, events[0].Record)
	}
	byEvent := map[objects.ID]*lineage.Record{}
	for _, l := range events {
		byEvent[l.ID] = l.Record
	}
	held := map[objects.ID][]string{}
	aliases := maps.Clone(holders)
	for _, e := range m.Events {
		if _, ok := aliases[e.Alias]; !ok {
			aliases[e.Alias] = objects.ID{}
		}
	}
	for _, alias := range slices.Sorted(maps.Keys(aliases)) {
		a := AliasInfo{Alias: alias, History: []Event{}}
		if ev := holders[alias]; !ev.IsZero() {
			rec := byEvent[ev]
			if rec == nil {
				return m, fmt.Errorf("model %s: alias %s: event %s is not in the chain", name, alias, ev.Short())
			}
			a.Event, a.Version, a.Number = ev, rec.Promotion.To, rec.Promotion.ToNumber
			held[a.Version] = append(held[a.Version], alias)
			a.LineageRoot = a.Version
		}
		cur, err := rs.Get(AliasRef(name, alias))
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			return m, err
		}
		a.Lagging = cur != a.Event
		for _, e := range m.Events {
			if e.Alias == alias {
				a.History = append(a.History, e)
			}
		}
		m.Aliases = append(m.Aliases, a)
	}
	for _, l := range versions {
		r := l.Record
		v := VersionInfo{ID: l.ID, Number: r.Number, Time: r.Time, Who: lineage.Who(r), Commit: r.Commit,
			Data: r.Data, Run: r.Run, Metrics: r.Metrics, Aliases: held[l.ID]}
		if v.Metrics == nil {
			v.Metrics = map[string]float64{}
		}
		m.Versions = append(m.Versions, v)
	}
	for i := range m.Aliases {
		a := &m.Aliases[i]
		for _, l := range versions {
			if l.ID == a.Version {
				a.Files = append([]objects.ID{}, l.Record.Objects...)
				if len(a.Files) == 0 && !l.Record.Data.IsZero() {
					a.Files = []objects.ID{l.Record.Data}
				}
			}
		}
	}
	return m, nil
}

// eventChain reads a model's event chain, newest first.
func eventChain(ctx context.Context, cr *lineage.ChainReader, rs *refs.Store, model string) ([]lineage.Link, error) {
	head, err := rs.Get(EventsRef(model))
	if errors.Is(err, refs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	chain, err := cr.Chain(ctx, head, nil)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", model, err)
	}
	for _, l := range chain {
		if l.Record.Type != lineage.TypePromotion || l.Record.Promotion == nil {
			return nil, &objects.CorruptError{What: "event", Name: l.ID.String(),
				Reason: fmt.Sprintf("a %s record in %s's event chain", l.Record.Type, model)}
		}
	}
	return chain, nil
}

func eventOf(l lineage.Link) Event {
	p := l.Record.Promotion
	return Event{ID: l.ID, Seq: p.Seq, Time: l.Record.Time, Who: lineage.Who(l.Record), Alias: p.Alias,
		Decision: p.Decision, Reason: p.Reason, From: p.From, FromNumber: p.FromNumber, To: p.To,
		ToNumber: p.ToNumber, Checks: p.Checks}
}

// HolderAt returns who held model's alias at a moment: the holders
// after the last event at or before then (events are in time order:
// dv fsck checks it), found in O(log² n) reads.
func HolderAt(ctx context.Context, s *objects.Store, rs *refs.Store, model, alias string, at time.Time) (Holding, error) {
	h := Holding{Model: model, Alias: alias}
	head, err := rs.Get(EventsRef(model))
	if errors.Is(err, refs.ErrNotFound) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	id, rec, err := lineage.Seek(ctx, s, head, lineage.EventNumber, func(r *lineage.Record) bool { return !r.Time.After(at) })
	if err != nil || rec == nil {
		return h, err
	}
	if rec.Type != lineage.TypePromotion || rec.Promotion == nil {
		return h, &objects.CorruptError{What: "event", Name: id.String(), Reason: fmt.Sprintf("a %s record in %s's event chain", rec.Type, model)}
	}
	ev := HoldersAfter(id, rec)[alias]
	if ev.IsZero() {
		return h, nil
	}
	e, err := loadEvent(ctx, s, ev, model)
	if err != nil {
		return h, err
	}
	h.Event, h.Version, h.Number = ev, e.Promotion.To, e.Promotion.ToNumber
	return h, nil
}
