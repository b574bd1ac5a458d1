package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// Kinds of chain problems.
const (
	ProblemDamaged   = "damaged"   // an event cannot be read (its bytes do not hash to its id)
	ProblemMissing   = "missing"   // an event the chain names is not in the store
	ProblemRemoved   = "removed"   // the sequence skips numbers: events were cut out
	ProblemReordered = "reordered" // sequence numbers or times run backwards
	ProblemForeign   = "foreign"   // a record of another type or model in the chain
	ProblemHolders   = "holders"   // an event's holders disagree with the events before it
	ProblemAlias     = "alias"     // an alias ref names an event that does not give it
	// ProblemLagging is not damage: an alias ref behind the chain (a dv
	// killed between recording a decision and moving the alias). The next
	// decision on the alias moves it.
	ProblemLagging = "lagging"
)

// Problem is one thing wrong with a model's event chain.
type Problem struct {
	Model string     `json:"model"`
	Event objects.ID `json:"event,omitzero"`
	Seq   int        `json:"seq,omitempty"`
	Kind  string     `json:"kind"`
	Name  string     `json:"name"` // events/MODEL#SEQ (id) or the alias ref
	Msg   string     `json:"msg"`
}

// Integrity reports whether the problem is damage (fsck exits 3).
func (p Problem) Integrity() bool { return p.Kind != ProblemLagging }

func (p Problem) String() string { return p.Name + ": " + p.Msg }

func eventName(model string, seq int, id objects.ID) string {
	if seq > 0 {
		return fmt.Sprintf("%s#%d (%s)", EventsRef(model), seq, id.Short())
	}
	return fmt.Sprintf("%s (%s)", EventsRef(model), id.Short())
}

// CheckChains verifies every model's event chain: each event is sound,
// of its model, numbered one below the next, no later than the next, and
// its holders follow from the events before it; each alias ref names the
// event the chain says gives the alias.
func CheckChains(ctx context.Context, s *objects.Store, rs *refs.Store) ([]Problem, error) {
	names, ids, err := rs.List()
	if err != nil {
		return nil, err
	}
	var out []Problem
	for _, n := range names {
		if model, ok := strings.CutPrefix(n, EventsPrefix); ok {
			problems, err := checkChain(ctx, s, rs, model, ids[n], names, ids)
			if err != nil {
				return nil, err
			}
			out = append(out, problems...)
		}
	}
	// Alias refs of models without a chain.
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, AliasesPrefix)
		if !ok {
			continue
		}
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			continue
		}
		if _, ok := ids[EventsRef(rest[:i])]; !ok {
			out = append(out, Problem{Model: rest[:i], Kind: ProblemAlias, Name: n,
				Msg: fmt.Sprintf("names event %s, but the model has no event chain (%s)", ids[n].Short(), EventsRef(rest[:i]))})
		}
	}
	return out, nil
}

func checkChain(ctx context.Context, s *objects.Store, rs *refs.Store, model string, head objects.ID, names []string, ids map[string]objects.ID) ([]Problem, error) {
	c := &chainCheck{model: model}
	chain, ok, err := c.readChain(ctx, s, head)
	if err != nil || !ok {
		return c.out, err
	}
	holders := c.checkOrder(chain)
	c.checkAliasRefs(chain, holders, names, ids)
	return c.out, nil
}

// chainCheck collects the problems of one model's event chain.
type chainCheck struct {
	model string
	out   []Problem
}

// add reports a problem with the event id (numbered seq, 0 if unknown).
func (c *chainCheck) add(id objects.ID, seq int, kind, format string, args ...any) {
	c.out = append(c.out, Problem{Model: c.model, Event: id, Seq: seq, Kind: kind, Name: eventName(c.model, seq, id), Msg: fmt.Sprintf(format, args...)})
}

// readChain reads the chain from head, newest first, by hand: a damaged
// event is reported by name, with the event that names it. It returns
// false after a problem that ends the chain (nothing more is checked).
// An event that cannot be read for a reason that says nothing of its
// bytes (EACCES, EIO, EMFILE) is no problem of the chain: it is returned
// as an error, naming the event.
func (c *chainCheck) readChain(ctx context.Context, s *objects.Store, head objects.ID) ([]lineage.Link, bool, error) {
	var chain []lineage.Link
	cr := lineage.NewChainReader(s)
	for id, by := head, 0; !id.IsZero(); {
		links, err := cr.Chain(ctx, id, func(*lineage.Record) bool { return true })
		if err != nil || len(links) == 0 {
			return nil, false, c.unreadable(id, by, len(chain) > 0, err)
		}
		l := links[0]
		if l.Record.Type != lineage.TypePromotion || l.Record.Promotion == nil || l.Record.Name != c.model {
			c.add(l.ID, 0, ProblemForeign, "a %s record of %q in %s's event chain", l.Record.Type, l.Record.Name, c.model)
			return nil, false, nil
		}
		chain = append(chain, l)
		by = l.Record.Promotion.Seq
		id = l.Record.Previous
	}
	return chain, true, nil
}

// unreadable reports the event id that cannot be read (by: the number of
// the event that names it as its previous, 0 for the head) as damaged or
// missing, or returns err when it says nothing of the chain: an I/O error.
func (c *chainCheck) unreadable(id objects.ID, by int, named bool, err error) error {
	seq := 0
	if by > 0 {
		seq = by - 1
	}
	kind := ProblemDamaged
	switch {
	case errors.Is(err, objects.ErrNotFound):
		kind = ProblemMissing
	case err != nil && !errors.Is(err, objects.ErrCorrupt):
		return fmt.Errorf("%s: %w", eventName(c.model, seq, id), err)
	}
	msg := fmt.Sprintf("cannot be read: %v", err)
	if named {
		msg = fmt.Sprintf("named by event #%d as its previous, cannot be read: %v", by, err)
	}
	c.add(id, seq, kind, "%s", msg)
	return nil
}

// checkOrder walks the chain (newest first) oldest first, checking
// numbering, times and holders; it returns the holders after the newest.
func (c *chainCheck) checkOrder(chain []lineage.Link) map[string]objects.ID {
	holders := map[string]objects.ID{}
	for i := len(chain) - 1; i >= 0; i-- {
		l := chain[i]
		want := len(chain) - i
		if i < len(chain)-1 {
			want = c.checkAfter(l, chain[i+1])
		}
		c.checkSeq(l, want)
		c.checkHolders(l, holders)
		holders = HoldersAfter(l.ID, l.Record)
	}
	return holders
}

// checkAfter checks that l is recorded no earlier than prev, the event it
// follows, and returns the sequence number due for l.
func (c *chainCheck) checkAfter(l, prev lineage.Link) int {
	p := l.Record.Promotion
	if l.Record.Time.Before(prev.Record.Time) {
		c.add(l.ID, p.Seq, ProblemReordered, "recorded at %s, before the event it follows (#%d at %s)",
			l.Record.Time.Format("2006-01-02T15:04:05Z"), prev.Record.Promotion.Seq, prev.Record.Time.Format("2006-01-02T15:04:05Z"))
	}
	return prev.Record.Promotion.Seq + 1
}

// checkSeq checks that l is numbered want.
func (c *chainCheck) checkSeq(l lineage.Link, want int) {
	p := l.Record.Promotion
	switch {
	case p.Seq == want:
	case p.Seq > want:
		c.add(l.ID, p.Seq, ProblemRemoved, "follows event #%d: %d events were removed", want-1, p.Seq-want)
	default:
		c.add(l.ID, p.Seq, ProblemReordered, "numbered %d where %d was due", p.Seq, want)
	}
}

// checkHolders checks l's recorded holders (and prior holder) against
// holders, those the events before it give.
func (c *chainCheck) checkHolders(l lineage.Link, holders map[string]objects.ID) {
	p := l.Record.Promotion
	recorded := map[string]objects.ID{}
	maps.Copy(recorded, p.Holders)
	expect := maps.Clone(holders)
	if Moves(p.Decision) {
		delete(expect, p.Alias)
		if p.Decision != DecisionRolledBack && p.Prior != holders[p.Alias] {
			c.add(l.ID, p.Seq, ProblemHolders, "its prior holder event %s is not the one that gave %s (%s)", short(p.Prior), p.Alias, short(holders[p.Alias]))
		}
	}
	if !maps.Equal(recorded, expect) {
		c.add(l.ID, p.Seq, ProblemHolders, "records holders %v; the events before it give %v", shortMap(recorded), shortMap(expect))
	}
}

// checkAliasRefs checks the model's alias refs against holders, those the
// chain gives: each names its holder, and each holder's alias has a ref.
func (c *chainCheck) checkAliasRefs(chain []lineage.Link, holders map[string]objects.ID, names []string, ids map[string]objects.ID) {
	model := c.model
	inChain := map[objects.ID]bool{}
	for _, l := range chain {
		inChain[l.ID] = true
	}
	prefix := AliasesPrefix + refs.SafeRefPart(model) + "/"
	seen := map[string]bool{}
	for _, n := range names {
		alias, ok := strings.CutPrefix(n, prefix)
		if !ok || strings.Contains(alias, "/") {
			continue
		}
		seen[alias] = true
		switch cur := ids[n]; {
		case cur == holders[alias]:
		case inChain[cur]:
			c.out = append(c.out, Problem{Model: model, Kind: ProblemLagging, Name: n,
				Msg: fmt.Sprintf("names event %s; the chain gives %s by event %s (an interrupted decision; the next dv promote or dv rollback moves it)", cur.Short(), alias, short(holders[alias]))})
		default:
			c.out = append(c.out, Problem{Model: model, Kind: ProblemAlias, Name: n,
				Msg: fmt.Sprintf("names %s, which is not an event of %s's chain (the chain gives %s by event %s)", cur.Short(), model, alias, short(holders[alias]))})
		}
	}
	for alias, ev := range holders {
		if !seen[alias] {
			c.out = append(c.out, Problem{Model: model, Kind: ProblemLagging, Name: AliasRef(model, alias),
				Msg: fmt.Sprintf("is missing; the chain gives %s by event %s (the next dv promote or dv rollback writes it)", alias, ev.Short())})
		}
	}
}

func short(id objects.ID) string {
	if id.IsZero() {
		return "none"
	}
	return id.Short()
}

func shortMap(m map[string]objects.ID) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+short(m[k]))
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{" + strings.Join(parts, " ") + "}"
}
