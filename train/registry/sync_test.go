package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

// TestReconcileForeignRecord: a local chain that holds a record that is no
// event (a damaged chain) is reconciled without a panic: the remote's head
// wins, and the unpushed local decision above the foreign record is
// reported dropped.
func TestReconcileForeignRecord(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	m1 := p.model("crop", map[string]float64{"rmse": 1.9})
	m2 := p.model("crop", map[string]float64{"rmse": 1.5})
	if _, err := p.promote(PromoteOptions{Model: "crop", Version: "1"}); err != nil {
		t.Fatal(err)
	}
	remote, err := p.rs.Get(EventsRef("crop"))
	if err != nil {
		t.Fatal(err)
	}
	// Locally: an unpushed decision whose previous is a model record.
	local := p.p.Write(&lineage.Record{Type: lineage.TypePromotion, Name: "crop", Previous: m1,
		Promotion: &lineage.Promotion{Seq: 2, Alias: "production", Decision: DecisionPromoted, To: m2, ToNumber: 2}}, "")
	if err := p.rs.CompareAndSwap(ctx, EventsRef("crop"), remote, local); err != nil {
		t.Fatal(err)
	}
	ref := EventsRef("crop")
	rest, notes, err := Reconcile(ctx, p.r.Store, p.rs, map[string]objects.ID{ref: remote}, []string{ref})
	if err != nil || len(rest) != 0 {
		t.Fatalf("Reconcile: rest %v, %v", rest, err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "crop@production: your decision #2") {
		t.Fatalf("notes %q, want the dropped decision #2", notes)
	}
	if id, err := p.rs.Get(ref); err != nil || id != remote {
		t.Fatalf("%s = %s, %v; want the remote's head %s", ref, id.Short(), err, remote.Short())
	}
}

// TestSyncAliasLate: a slow decision that moves its alias ref after a
// later decision moved it leaves the ref to the later one (review 11).
func TestSyncAliasLate(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	p.model("crop", map[string]float64{"rmse": 1.9})
	p.model("crop", map[string]float64{"rmse": 1.5})
	if _, err := p.promote(PromoteOptions{Model: "crop", Version: "1"}); err != nil {
		t.Fatal(err)
	}
	e1, err := p.rs.Get(AliasRef("crop", "production"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.promote(PromoteOptions{Model: "crop", Version: "2"}); err != nil {
		t.Fatal(err)
	}
	e2, err := p.rs.Get(AliasRef("crop", "production"))
	if err != nil || e2 == e1 {
		t.Fatalf("production after promoting v2: %s, %v", e2.Short(), err)
	}
	// The first decision's sync, late.
	if err := syncAlias(ctx, p.r.Store, p.rs, "crop", "production", e1); err != nil {
		t.Fatal(err)
	}
	if cur, err := p.rs.Get(AliasRef("crop", "production")); err != nil || cur != e2 {
		t.Fatalf("production names %s after a late sync (%v), want the later decision's %s", cur.Short(), err, e2.Short())
	}
	if h := p.holder("crop", "production"); h.Number != 2 {
		t.Fatalf("production held by v%d, want v2", h.Number)
	}
	problems, err := CheckChains(ctx, p.r.Store, p.rs)
	if err != nil || len(problems) != 0 {
		t.Fatalf("chain after the late sync: %v, %v", problems, err)
	}
}
