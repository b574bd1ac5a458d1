package export

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects"
)

func testManifest() *Manifest {
	return &Manifest{Version: ManifestVersion, Kind: bundleKind, DV: "test",
		Model: ModelInfo{Name: "crop", Number: 3, Record: objects.Hash(objects.TypeRecord, []byte("r")), Path: "models/crop",
			Type: "dir", Size: 3, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Created: time.Unix(0, 0).UTC(),
			Meta: map[string]string{"b": "2", "a": "<&>"}},
		Metrics: map[string]float64{"rmse": 1.5, "acc": 0.9},
		Files: []File{{Path: "model/a.bin", Size: 3, Mode: "0755", SHA256: strings.Repeat("a", 64), BLAKE3: strings.Repeat("b", 64),
			ID: objects.Hash(objects.TypeBlob, []byte("abc"))}},
		Lineage: &Lineage{Command: []string{"python", "train.py"}, Params: map[string]string{"lr": "0.1"},
			Inputs: []Input{{Path: "data", Type: "dataset"}}}}
}

// TestManifestRoundTrip: encode, decode, encode gives the same bytes,
// with sorted map keys and no HTML escaping.
func TestManifestRoundTrip(t *testing.T) {
	b, err := testManifest().Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the bytes:\n%s\n%s", b, b2)
	}
	if !bytes.Contains(b, []byte(`"a": "<&>"`)) || bytes.Index(b, []byte(`"acc"`)) > bytes.Index(b, []byte(`"rmse"`)) {
		t.Fatalf("not canonical:\n%s", b)
	}
	if !m.Files[0].Exec() {
		t.Fatal("mode 0755 is executable")
	}
}

// TestManifestRefused: paths that leave model/, bad digests, duplicates,
// other kinds and versions are refused.
func TestManifestRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m *Manifest)
	}{
		{"dotdot", func(m *Manifest) { m.Files[0].Path = "model/../etc/passwd" }},
		{"absolute", func(m *Manifest) { m.Files[0].Path = "/etc/passwd" }},
		{"outside model", func(m *Manifest) { m.Files[0].Path = "other/a.bin" }},
		{"backslash", func(m *Manifest) { m.Files[0].Path = `model/a\b` }},
		{"dot git", func(m *Manifest) { m.Files[0].Path = "model/.git/config" }},
		{"short digest", func(m *Manifest) { m.Files[0].SHA256 = "abc" }},
		{"duplicate", func(m *Manifest) { m.Files = append(m.Files, m.Files[0]) }},
		{"unsorted", func(m *Manifest) {
			m.Files = append([]File{{Path: "model/z", Mode: "0644", SHA256: m.Files[0].SHA256, BLAKE3: m.Files[0].BLAKE3}}, m.Files...)
		}},
		{"bad dir", func(m *Manifest) { m.Dirs = []string{"model/../x"} }},
		{"kind", func(m *Manifest) { m.Kind = "other" }},
		{"version", func(m *Manifest) { m.Version = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testManifest()
			tc.edit(m)
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeManifest(b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func FuzzDecodeManifest(f *testing.F) {
	b, _ := testManifest().Encode()
	f.Add(b)
	f.Add([]byte(`{"version":1,"kind":"dv-model-bundle","files":[{"path":"model/x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		for _, fl := range m.Files {
			if checkBundlePath(fl.Path) != nil {
				t.Fatalf("accepted path %q", fl.Path)
			}
		}
		if _, err := m.Encode(); err != nil {
			t.Fatal(err)
		}
	})
}
