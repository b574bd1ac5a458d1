package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// Reconcile settles the registry refs a fetch left diverged (local value
// kept, the remote's recorded as last seen). A model's event chain is
// append-only, so for events/MODEL: when the local chain contains the
// remote's head, the local one is ahead and stays (the next push
// appends); otherwise the remote's head wins, and local decisions that
// were never pushed are dropped, each reported in notes: they were made
// against a holder that the remote has since replaced, and dv promote
// must evaluate again. Every alias of such a model is then moved to the
// event its chain head says gives it. It returns the diverged names that
// are not the registry's, for the caller to report as before.
func Reconcile(ctx context.Context, s *objects.Store, rs *refs.Store, remote map[string]objects.ID, diverged []string) (rest, notes []string, err error) {
	models := map[string]bool{}
	for _, name := range diverged {
		if model, ok := strings.CutPrefix(name, EventsPrefix); ok {
			models[model] = true
			n, err := reconcileChain(ctx, s, rs, model, remote[name])
			if err != nil {
				return nil, nil, err
			}
			notes = append(notes, n...)
			continue
		}
		if a, ok := strings.CutPrefix(name, AliasesPrefix); ok {
			if i := strings.LastIndexByte(a, '/'); i > 0 {
				models[a[:i]] = true
				continue
			}
		}
		rest = append(rest, name)
	}
	for model := range models {
		if err := syncAliases(ctx, s, rs, model); err != nil {
			return nil, nil, err
		}
	}
	return rest, notes, nil
}

// reconcileChain keeps the local chain when it contains the remote head,
// else moves events/MODEL to the remote head and says what was dropped.
func reconcileChain(ctx context.Context, s *objects.Store, rs *refs.Store, model string, remoteHead objects.ID) ([]string, error) {
	ref := EventsRef(model)
	local, err := rs.Get(ref)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return nil, err
	}
	cr := lineage.NewChainReader(s)
	localChain, err := cr.Chain(ctx, local, func(r *lineage.Record) bool { return false })
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", model, err)
	}
	for _, l := range localChain {
		if l.ID == remoteHead {
			return nil, nil // local is ahead: the next push appends
		}
	}
	// The remote's chain may contain the local head (local is behind), or
	// not: either way its head wins; the local events after the common
	// part were never pushed. The local chain may hold records that are
	// no events (a damaged chain, fsck says so): they are passed over.
	remoteChain, err := cr.Chain(ctx, remoteHead, nil)
	if err != nil {
		return nil, fmt.Errorf("remote events of %s: %w", model, err)
	}
	inRemote := map[objects.ID]bool{}
	for _, l := range remoteChain {
		inRemote[l.ID] = true
	}
	var notes []string
	for _, l := range localChain {
		if inRemote[l.ID] {
			break
		}
		if p := l.Record.Promotion; p != nil {
			notes = append(notes, fmt.Sprintf("%s@%s: your decision #%d (%s) was not pushed and the remote's chain moved on; it is dropped: run dv promote again to evaluate against the remote's holder",
				model, p.Alias, p.Seq, lineage.PromotionText(p)))
		}
	}
	if err := rs.CompareAndSwap(ctx, ref, local, remoteHead); err != nil {
		return nil, err
	}
	return notes, nil
}

// syncAliases moves every alias ref of model to the event the chain's
// head says gives it, and removes alias refs the chain does not know.
func syncAliases(ctx context.Context, s *objects.Store, rs *refs.Store, model string) error {
	head, err := readHead(ctx, s, rs, model)
	if err != nil {
		return err
	}
	names, ids, err := rs.List()
	if err != nil {
		return err
	}
	prefix := AliasesPrefix + refs.SafeRefPart(model) + "/"
	for _, n := range names {
		alias, ok := strings.CutPrefix(n, prefix)
		if !ok || strings.Contains(alias, "/") {
			continue
		}
		if _, known := head.Holders[alias]; !known {
			if err := rs.CompareAndSwap(ctx, n, ids[n], objects.ID{}); err != nil {
				return err
			}
		}
	}
	for alias, ev := range head.Holders {
		if err := syncAlias(ctx, s, rs, model, alias, ev); err != nil {
			return err
		}
	}
	return nil
}
