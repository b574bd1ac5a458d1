package registry

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

func TestResolveGrammar(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	v1 := p.model("crop", map[string]float64{"rmse": 3})
	v2 := p.model("crop", map[string]float64{"rmse": 2})
	v3 := p.model("crop", map[string]float64{"rmse": 1})
	soil := p.record(lineage.TypeDataset, "soil", nil)
	dupData := p.record(lineage.TypeDataset, "dup", nil)
	p.model("dup", nil)
	run := p.record(lineage.TypeRun, "prep", nil)
	ev, err := appendEvent(ctx, p.rc, "crop", objects.ID{}, lineage.Promotion{Alias: "production",
		Decision: DecisionPromoted, To: v2, ToNumber: 2})
	if err != nil {
		t.Fatal(err)
	}
	// A tracked path: its pointer's record.
	if err := os.WriteFile(p.r.Abs("fields.csv"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pointer.Write(p.r.Abs("fields.csv.dv"), &pointer.Pointer{Version: 1, Kind: "dataset",
		Type: "file", OID: objects.Hash(objects.TypeBlob, []byte("a\n")), Size: 2, Files: 1, Record: soil}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, in string
		want     objects.ID
		number   int
		err      string
	}{
		{name: "latest model", in: "crop", want: v3},
		{name: "version", in: "crop@v1", want: v1, number: 1},
		{name: "version 3", in: "crop@v3", want: v3, number: 3},
		{name: "alias", in: "crop@production", want: v2, number: 2},
		{name: "full model ref with alias", in: "models/crop@v2", want: v2, number: 2},
		{name: "alias ref", in: "aliases/crop/production", want: v2, number: 2},
		{name: "full ref", in: "runs/prep", want: run},
		{name: "events ref", in: "events/crop", want: ev},
		{name: "dataset", in: "soil", want: soil},
		{name: "run (secondary)", in: "prep", want: run},
		{name: "tracked path", in: "FIELDS", want: soil},
		{name: "full id", in: v1.String(), want: v1},
		{name: "id prefix", in: v1.String()[:12], want: v1},
		{name: "ambiguous name", in: "dup", err: "ambiguous name: it names models/dup and datasets/dup"},
		{name: "no such version", in: "crop@v9", err: "model crop has 3 versions"},
		{name: "v0", in: "crop@v0", err: "numbered from v1"},
		{name: "no holder", in: "crop@staging", err: "no version holds alias staging"},
		{name: "bad alias", in: "crop@a b", err: "use letters, digits"},
		{name: "unknown", in: "nothing", err: "not a model, dataset"},
		{name: "unknown model with at", in: "ghost@v1", err: "not a model, dataset"},
		{name: "short prefix", in: v1.String()[:7], err: "not a model, dataset"},
		{name: "empty", in: "", err: "no name given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.ReplaceAll(tc.in, "FIELDS", p.r.Abs("fields.csv"))
			got, err := Resolve(ctx, p.r, p.rs, in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Resolve(%q) = %v, %v; want error containing %q", tc.in, got.ID, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.in, err)
			}
			if got.ID != tc.want {
				t.Errorf("Resolve(%q) = %s, want %s", tc.in, got.ID.Short(), tc.want.Short())
			}
			if tc.number != 0 && got.Number != tc.number {
				t.Errorf("Resolve(%q).Number = %d, want %d", tc.in, got.Number, tc.number)
			}
		})
	}
	_ = dupData
}

func TestResolveAmbiguousPrefix(t *testing.T) {
	p := newProject(t)
	// Two ids sharing 8 digits take billions of tries; resolveID, which
	// Resolve calls with 8+ digits, is checked with 2-digit prefixes.
	seen := map[string]objects.ID{}
	for i := 0; i < 300; i++ {
		id := p.record(lineage.TypeRun, "r", map[string]float64{"i": float64(i)})
		k := id.String()[:2]
		if other, ok := seen[k]; ok {
			_, err := resolveID(p.r.Store, k)
			if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), other.String()) ||
				!strings.Contains(err.Error(), id.String()) || !strings.Contains(err.Error(), "(record)") {
				t.Fatalf("resolveID(%q) = %v, want ambiguity listing %s and %s", k, err, other.Short(), id.Short())
			}
			if got, err := resolveID(p.r.Store, id.String()[:8]); err != nil || got != id {
				t.Fatalf("unique prefix: %v, %v", got, err)
			}
			return
		}
		seen[k] = id
	}
	t.Fatal("no two of 300 ids share 2 digits")
}

func TestVersionNumbers(t *testing.T) {
	p := newProject(t)
	ctx := context.Background()
	for i := 1; i <= 260; i++ { // past lineage's lazy limit: the chain is prefetched
		id := p.model("big", nil)
		rec, err := lineage.Load(ctx, p.r.Store, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Number != i {
			t.Fatalf("version %d has number %d", i, rec.Number)
		}
		if want := i & (i - 1); want == 0 && !rec.Skip.IsZero() {
			t.Fatalf("version %d skips", i)
		} else if want > 0 {
			sk, err := lineage.Load(ctx, p.r.Store, rec.Skip)
			if err != nil || sk.Number != want {
				t.Fatalf("version %d skips to %v (%v), want version %d", i, sk, err, want)
			}
		}
	}
	for _, n := range []int{1, 2, 150, 259, 260} {
		id, err := VersionNumber(ctx, p.r.Store, p.rs, "big", n)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := lineage.Load(ctx, p.r.Store, id)
		if rec.Number != n {
			t.Errorf("VersionNumber(%d) gave number %d", n, rec.Number)
		}
	}
}
