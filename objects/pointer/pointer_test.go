package pointer

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects"
)

func tstPointer() *Pointer {
	return &Pointer{
		Kind: "dataset", Type: objects.EntryDir,
		OID:  objects.Hash(objects.TypeTree, []byte("root")),
		Size: 123456, Files: 42,
		Name: "crop", Desc: "crop images: 2024 harvest",
		Meta: map[string]string{"source": "s3://bucket/x", "b": "2", "a": "1"},
	}
}

func TestPointerRoundTrip(t *testing.T) {
	t.Parallel()
	file := &Pointer{Kind: "model", Type: objects.EntryFile, OID: objects.Hash(objects.TypeBlob, []byte("m")), Size: 9, Files: 1, Exec: true}
	labels := &Pointer{Kind: "labels", Type: objects.EntryDir, OID: objects.Hash(objects.TypeTree, nil), LabelsFor: "crop", Remote: "shelf"}
	for _, p := range []*Pointer{tstPointer(), file, labels} {
		b, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("version: 1\n")) {
			t.Fatalf("pointer does not start with its version:\n%s", b)
		}
		if !bytes.Contains(b, []byte("oid: "+p.OID.String()+"\n")) {
			t.Fatalf("oid not written as hex:\n%s", b)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode:\n%s\n%v", b, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
		}
		b2, err := got.Encode()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding differs (%v):\n%s\n%s", err, b, b2)
		}
	}
	if keys := tstPointer().SortedMeta(); !reflect.DeepEqual(keys, []string{"a", "b", "source"}) {
		t.Fatalf("SortedMeta = %v", keys)
	}
}

func TestPointerKeepsUnknownKeys(t *testing.T) {
	t.Parallel()
	p := tstPointer()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, "zz_future: {nested: [1, 2, three]}\naa_later: yes please\n"...)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Extra) != 2 || got.Extra["aa_later"] != "yes please" {
		t.Fatalf("Extra = %#v", got.Extra)
	}
	out, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, "aa_later: yes please") || !strings.Contains(s, "zz_future:") || !strings.Contains(s, "three") {
		t.Fatalf("unknown keys lost:\n%s", s)
	}
	if strings.Index(s, "aa_later") < strings.Index(s, "meta:") {
		t.Fatalf("unknown keys should follow the known ones:\n%s", s)
	}
	again, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Fatalf("second round trip:\n got %#v\nwant %#v", again, got)
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	oid := objects.Hash(objects.TypeTree, []byte("x")).String()
	ptr := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	tests := []struct {
		name string
		in   string
	}{
		{"missing oid", ptr("version: 1", "kind: dataset", "type: dir")},
		{"zero oid", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+strings.Repeat("0", 64))},
		{"short oid", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+oid[:12])},
		{"uppercase oid", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+strings.ToUpper(oid))},
		{"bad kind", ptr("version: 1", "kind: video", "type: dir", "oid: "+oid)},
		{"missing kind", ptr("version: 1", "type: dir", "oid: "+oid)},
		{"bad type", ptr("version: 1", "kind: dataset", "type: symlink", "oid: "+oid)},
		{"missing type", ptr("version: 1", "kind: dataset", "oid: "+oid)},
		{"version 2", ptr("version: 2", "kind: dataset", "type: dir", "oid: "+oid)},
		{"version 0", ptr("version: 0", "kind: dataset", "type: dir", "oid: "+oid)},
		{"no version", ptr("kind: dataset", "type: dir", "oid: "+oid)},
		{"version string", ptr("version: one", "kind: dataset", "type: dir", "oid: "+oid)},
		{"path key", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+oid, "path: ../../etc")},
		{"negative size", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+oid, "size: -1")},
		{"negative files", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+oid, "files: -5")},
		{"duplicate key", ptr("version: 1", "kind: dataset", "kind: model", "type: dir", "oid: "+oid)},
		{"meta not a map", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+oid, "meta: [1, 2]")},
		{"too large", ptr("version: 1", "kind: dataset", "type: dir", "oid: "+oid, "desc: "+strings.Repeat("x", 1<<20))},
		{"garbage YAML", "{{{: ]\n"},
		{"tab indent", "version: 1\n\tkind: dataset\n"},
		{"a list", "- a\n- b\n"},
		{"a scalar", "hello\n"},
		{"empty", ""},
		{"binary", "\x00\x01\x02\xff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if p, err := Decode([]byte(tc.in)); err == nil {
				t.Fatalf("accepted %q: %+v", tstTruncate(tc.in), p)
			}
		})
	}
	good := ptr("version: 1", "kind: dataset", "type: dir", "oid: "+oid)
	if _, err := Decode([]byte(good)); err != nil {
		t.Fatalf("good pointer refused: %v", err)
	}
}

func tstTruncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

func TestPointerEncodeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(p *Pointer)
	}{
		{"no oid", func(p *Pointer) { p.OID = objects.ID{} }},
		{"bad kind", func(p *Pointer) { p.Kind = "" }},
		{"bad type", func(p *Pointer) { p.Type = objects.EntrySymlink }},
		{"negative size", func(p *Pointer) { p.Size = -1 }},
		{"path in extra", func(p *Pointer) { p.Extra = map[string]any{"path": "x"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tstPointer()
			tc.edit(p)
			if b, err := p.Encode(); err == nil {
				t.Fatalf("encoded a bad pointer:\n%s", b)
			}
		})
	}
}

func TestReadWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "data"+Ext)
	p := tstPointer()
	if err := Write(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("Read: %+v, %v", got, err)
	}
	big := filepath.Join(dir, "big"+Ext)
	if err := os.WriteFile(big, bytes.Repeat([]byte("# comment\n"), 200_000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(big); err == nil || !strings.Contains(err.Error(), big) {
		t.Fatalf("oversized pointer: %v (want an error naming the file)", err)
	}
	bad := filepath.Join(dir, "bad"+Ext)
	if err := os.WriteFile(bad, []byte("version: 1\nkind: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad pointer: %v (want an error naming the file)", err)
	}
	if _, err := Read(filepath.Join(dir, "missing.dv")); !os.IsNotExist(err) {
		t.Fatalf("missing pointer: %v", err)
	}
	if err := Write(filepath.Join(dir, "x.dv"), &Pointer{}); err == nil {
		t.Fatal("Write wrote an invalid pointer")
	}
}

// tstSameMeta compares metadata maps, an empty map equal to none (Encode
// omits both).
func tstSameMeta(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// FuzzDecode: no panic; an accepted pointer encodes, and the
// encoding is a fixed point of decode+encode.
func FuzzDecode(f *testing.F) {
	for _, p := range []*Pointer{tstPointer(), {Kind: "other", Type: objects.EntryFile, OID: objects.Hash(objects.TypeBlob, nil)}} {
		b, err := p.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(append(b, "future: [1, {a: b}]\n"...))
	}
	f.Add([]byte("version: 1\nkind: dataset\ntype: dir\npath: /etc\n"))
	f.Add([]byte("{version: 1, kind: model, type: file, oid: " + objects.Hash(objects.TypeBlob, nil).String() + "}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		if p.OID.IsZero() || p.Version != Version {
			t.Fatalf("accepted a pointer without oid or with version %d", p.Version)
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatalf("accepted pointer does not encode: %v", err)
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("encoding does not decode: %v\n%s", err, enc)
		}
		if back.OID != p.OID || back.Kind != p.Kind || back.Type != p.Type || back.Size != p.Size ||
			back.Files != p.Files || back.Exec != p.Exec || back.Name != p.Name || back.Desc != p.Desc ||
			back.LabelsFor != p.LabelsFor || back.Remote != p.Remote || !tstSameMeta(back.Meta, p.Meta) {
			t.Fatalf("round trip changed a known field:\n got %+v\nwant %+v", back, p)
		}
		enc2, err := back.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point (%v):\n%s\n%s", err, enc, enc2)
		}
	})
}
