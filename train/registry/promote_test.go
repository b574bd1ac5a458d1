package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

var gate = &Framing{Promotion: Promotion{Alias: "production", Criteria: []Criterion{
	{Metric: "rmse", Direction: Lower, Threshold: f(2), MinRelativeImprovement: f(0.02)}}}}

func (p *project) promote(o PromoteOptions) (*Decision, error) {
	p.t.Helper()
	return promote(context.Background(), p.r, p.rc, gate, o)
}

func (p *project) holder(model, alias string) Holding {
	p.t.Helper()
	h, err := HolderOf(context.Background(), p.r.Store, p.rs, model, alias)
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

// TestPromoteConflict: two deciders at once; the second learns that the
// alias moved, naming it, and a retry evaluates against the new holder.
func TestPromoteConflict(t *testing.T) {
	p := newProject(t)
	p.model("crop", map[string]float64{"rmse": 1.9})
	p.model("crop", map[string]float64{"rmse": 1.8})
	p.model("crop", map[string]float64{"rmse": 1.5})
	if _, err := p.promote(PromoteOptions{Model: "crop", Version: "1"}); err != nil {
		t.Fatal(err)
	}
	// While v3 is evaluated against v1, another process promotes v2.
	testHookBeforeRecord = func() {
		testHookBeforeRecord = nil
		if _, err := p.promote(PromoteOptions{Model: "crop", Version: "2"}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { testHookBeforeRecord = nil })
	d, err := p.promote(PromoteOptions{Model: "crop", Version: "3"})
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, refs.ErrConflict) || ce.Alias != "production" || ce.Now.Number != 2 {
		t.Fatalf("concurrent promote: %v, want a conflict on production held by v2", err)
	}
	if d.Baseline.Number != 1 {
		t.Fatalf("evaluated against v%d", d.Baseline.Number)
	}
	if h := p.holder("crop", "production"); h.Number != 2 {
		t.Fatalf("production held by v%d after the conflict, want v2", h.Number)
	}
	// The retry evaluates against v2.
	d, err = p.promote(PromoteOptions{Model: "crop", Version: "3"})
	if err != nil || d.Baseline.Number != 2 || d.Decision != DecisionPromoted {
		t.Fatalf("retry: %+v, %v", d, err)
	}
	// A decision on another alias meanwhile is no conflict: the chain
	// append retries.
	testHookBeforeRecord = func() {
		testHookBeforeRecord = nil
		if _, err := p.promote(PromoteOptions{Model: "crop", Version: "1", Alias: "staging"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.promote(PromoteOptions{Model: "crop", Version: "3", Alias: "canary"}); err != nil {
		t.Fatalf("promote to canary while staging moved: %v", err)
	}
	problems, err := CheckChains(context.Background(), p.r.Store, p.rs)
	if err != nil || len(problems) != 0 {
		t.Fatalf("chain after the conflicts: %v, %v", problems, err)
	}
}

// TestInterruptedPromotion: a dv killed after appending the event, before
// moving the alias: the chain's head says who holds it, fsck reports the
// alias as lagging (not damage), and the next decision moves the ref.
func TestInterruptedPromotion(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	p.model("crop", map[string]float64{"rmse": 1.9})
	p.model("crop", map[string]float64{"rmse": 1.5})
	d1, err := p.promote(PromoteOptions{Model: "crop", Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := p.promote(PromoteOptions{Model: "crop", Version: "2"})
	if err != nil {
		t.Fatal(err)
	}
	// Put the alias back where it was before the second promotion.
	if err := p.rs.CompareAndSwap(ctx, AliasRef("crop", "production"), d2.Event, d1.Event); err != nil {
		t.Fatal(err)
	}
	h := p.holder("crop", "production")
	if h.Number != 2 || !h.Lagging {
		t.Fatalf("holder %+v, want v2, lagging", h)
	}
	problems, err := CheckChains(ctx, p.r.Store, p.rs)
	if err != nil || len(problems) != 1 || problems[0].Kind != ProblemLagging || problems[0].Integrity() {
		t.Fatalf("problems %v, %v; want one lagging alias", problems, err)
	}
	if _, err := Rollback(ctx, p.r, p.rc, "crop", "production", ""); err != nil {
		t.Fatal(err)
	}
	if h := p.holder("crop", "production"); h.Number != 1 || h.Lagging {
		t.Fatalf("after rollback: %+v", h)
	}
	if problems, err := CheckChains(ctx, p.r.Store, p.rs); err != nil || len(problems) != 0 {
		t.Fatalf("problems %v, %v", problems, err)
	}
}

// TestCheckChainsTampering: a chain rewritten without an event, or with
// two events swapped, is reported by name.
func TestCheckChainsTampering(t *testing.T) {
	ctx := context.Background()
	build := func(t *testing.T) (*project, []lineage.Link) {
		p := newProject(t)
		p.model("crop", map[string]float64{"rmse": 1.9})
		p.model("crop", map[string]float64{"rmse": 1.5})
		for _, v := range []string{"1", "2"} {
			if _, err := p.promote(PromoteOptions{Model: "crop", Version: v, DryRun: false}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.promote(PromoteOptions{Model: "crop", Version: "1"}); !errors.Is(err, ErrRejected) {
			t.Fatal(err)
		}
		head, _ := p.rs.Get(EventsRef("crop"))
		chain, err := lineage.LoadChain(ctx, p.r.Store, head, nil)
		if err != nil || len(chain) != 3 {
			t.Fatal(chain, err)
		}
		return p, chain
	}
	// rewrite stores rec as the new head (re-linked to prev).
	rewrite := func(p *project, rec *lineage.Record, prev objects.ID) objects.ID {
		r := *rec
		r.Previous = prev
		w := p.r.Store.NewWriter()
		id, err := lineage.Put(ctx, w, &r)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return id
	}
	setHead := func(p *project, id objects.ID) {
		old, _ := p.rs.Get(EventsRef("crop"))
		if err := p.rs.CompareAndSwap(ctx, EventsRef("crop"), old, id); err != nil {
			t.Fatal(err)
		}
	}
	kinds := func(ps []Problem) map[string]bool {
		out := map[string]bool{}
		for _, p := range ps {
			out[p.Kind] = true
		}
		return out
	}
	t.Run("removed", func(t *testing.T) {
		p, chain := build(t)
		// #3 re-linked straight to #1: #2 is gone.
		setHead(p, rewrite(p, chain[0].Record, chain[2].ID))
		ps, err := CheckChains(ctx, p.r.Store, p.rs)
		if err != nil || !kinds(ps)[ProblemRemoved] {
			t.Fatalf("problems %v, %v; want removed", ps, err)
		}
	})
	t.Run("reordered", func(t *testing.T) {
		p, chain := build(t)
		// #2 on top of #3 on top of #1.
		three := rewrite(p, chain[0].Record, chain[2].ID)
		setHead(p, rewrite(p, chain[1].Record, three))
		ps, err := CheckChains(ctx, p.r.Store, p.rs)
		if err != nil || !kinds(ps)[ProblemReordered] {
			t.Fatalf("problems %v, %v; want reordered", ps, err)
		}
	})
	t.Run("foreign", func(t *testing.T) {
		p, _ := build(t)
		setHead(p, p.model("crop", nil))
		ps, err := CheckChains(ctx, p.r.Store, p.rs)
		if err != nil || !kinds(ps)[ProblemForeign] {
			t.Fatalf("problems %v, %v; want foreign", ps, err)
		}
	})
	t.Run("sound", func(t *testing.T) {
		p, _ := build(t)
		if ps, err := CheckChains(ctx, p.r.Store, p.rs); err != nil || len(ps) != 0 {
			t.Fatalf("problems %v, %v", ps, err)
		}
	})
}
