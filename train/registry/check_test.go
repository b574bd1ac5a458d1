package registry

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
)

// TestCheckChainsIOErrorIsNotDamage: an event that cannot be read for a
// reason that says nothing of its bytes (here EISDIR: a directory where
// its pack should be) is an error naming the event, not a damaged chain.
func TestCheckChainsIOErrorIsNotDamage(t *testing.T) {
	ctx := context.Background()
	p := newProject(t)
	p.model("crop", map[string]float64{"rmse": 1.9})
	p.model("crop", map[string]float64{"rmse": 1.5})
	for _, v := range []string{"1", "2"} {
		if _, err := p.promote(PromoteOptions{Model: "crop", Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := p.rs.Get(EventsRef("crop"))
	if err != nil {
		t.Fatal(err)
	}
	l, ok := p.r.Store.Lookup(head)
	if !ok {
		t.Fatalf("event %s is not in the store", head)
	}
	path := p.r.Store.PackPath(l.Pack)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil { // reads fail with EISDIR
		t.Fatal(err)
	}
	// A fresh open: the store keeps the packs it read open.
	r, err := workspace.Open(p.p.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	problems, err := CheckChains(ctx, r.Store, p.rs)
	if len(problems) != 0 || err == nil || errors.Is(err, objects.ErrCorrupt) || !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("CheckChains with an unreadable event: problems %v, error %v; want no problem and a plain error", problems, err)
	}
	if !strings.Contains(err.Error(), "events/crop ("+head.Short()+")") {
		t.Errorf("%v does not name the event", err)
	}
}
