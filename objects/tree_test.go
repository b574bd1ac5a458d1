package objects

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func tstTree() *Tree {
	f := Hash(TypeBlob, []byte("f"))
	d := Hash(TypeTree, []byte("d"))
	return &Tree{Entries: []TreeEntry{
		{Name: "z.csv", Type: EntryFile, Size: 10, ID: f},
		{Name: "run.sh", Type: EntryFile, Exec: true, Size: 3, ID: f},
		{Name: "sub", Type: EntryDir, Size: 1000, Files: 7, ID: d},
		{Name: "日本語 <&>.txt", Type: EntryFile, ID: f},
		{Name: "link", Type: EntrySymlink, Target: "sub/x"},
		{Name: "A", Type: EntryFile, ID: f},
	}}
}

func TestTreeRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tree *Tree
	}{
		{"empty", &Tree{}},
		{"mixed", tstTree()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := tc.tree.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if tc.tree.Version != TreeVersion {
				t.Errorf("Encode left version %d", tc.tree.Version)
			}
			for i := 1; i < len(tc.tree.Entries); i++ {
				if tc.tree.Entries[i-1].Name >= tc.tree.Entries[i].Name {
					t.Errorf("Encode did not sort the entries")
				}
			}
			if bytes.Contains(b, []byte(`\u003c`)) {
				t.Errorf("Encode escaped HTML: %s", b)
			}
			got, err := DecodeTree(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.tree) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.tree)
			}
			b2, err := got.Encode()
			if err != nil || !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding differs (%v)", err)
			}
		})
	}
}

func TestTreeEncodeIsCanonical(t *testing.T) {
	t.Parallel()
	a, b := tstTree(), tstTree()
	for i, j := 0, len(b.Entries)-1; i < j; i, j = i+1, j-1 {
		b.Entries[i], b.Entries[j] = b.Entries[j], b.Entries[i]
	}
	ea, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea, eb) {
		t.Fatal("entry order changes the encoding")
	}
}

func TestTreeEncodeRefuses(t *testing.T) {
	t.Parallel()
	id := Hash(TypeBlob, []byte("x"))
	file := func(name string) TreeEntry { return TreeEntry{Name: name, Type: EntryFile, ID: id} }
	tests := []struct {
		name    string
		entries []TreeEntry
	}{
		{"dot dot", []TreeEntry{file("..")}},
		{"dot", []TreeEntry{file(".")}},
		{"empty name", []TreeEntry{file("")}},
		{"slash", []TreeEntry{file("a/b")}},
		{"NUL", []TreeEntry{file("a\x00b")}},
		{"bad UTF-8", []TreeEntry{file("a\xffb")}},
		{"duplicate", []TreeEntry{file("a"), file("a")}},
		{"unknown type", []TreeEntry{{Name: "a", Type: "fifo", ID: id}}},
		{"file without id", []TreeEntry{{Name: "a", Type: EntryFile}}},
		{"dir without id", []TreeEntry{{Name: "a", Type: EntryDir}}},
		{"file with target", []TreeEntry{{Name: "a", Type: EntryFile, ID: id, Target: "b"}}},
		{"symlink without target", []TreeEntry{{Name: "a", Type: EntrySymlink}}},
		{"symlink with id", []TreeEntry{{Name: "a", Type: EntrySymlink, Target: "b", ID: id}}},
		{"symlink target with NUL", []TreeEntry{{Name: "a", Type: EntrySymlink, Target: "b\x00"}}},
		{"negative size", []TreeEntry{{Name: "a", Type: EntryFile, ID: id, Size: -1}}},
		{"negative files", []TreeEntry{{Name: "a", Type: EntryDir, ID: id, Files: -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tree := &Tree{Entries: tc.entries}
			if b, err := tree.Encode(); err == nil {
				t.Fatalf("encoded a bad tree: %s", b)
			}
		})
	}
}

func TestDecodeTreeRefuses(t *testing.T) {
	t.Parallel()
	id := Hash(TypeBlob, []byte("x")).String()
	ent := func(name, typ string) string {
		return fmt.Sprintf(`{"name":%q,"type":%q,"size":1,"id":%q}`, name, typ, id)
	}
	tree := func(entries ...string) string {
		return `{"version":1,"entries":[` + strings.Join(entries, ",") + `]}`
	}
	zero := strings.Repeat("0", 64)
	tests := []struct {
		name string
		json string
	}{
		{"dot dot", tree(ent("..", "file"))},
		{"dot", tree(ent(".", "dir"))},
		{"empty name", tree(ent("", "file"))},
		{"slash", tree(ent("a/b", "file"))},
		{"leading slash", tree(ent("/etc", "file"))},
		{"NUL escaped", tree(`{"name":"a\u0000b","type":"file","size":1,"id":"` + id + `"}`)},
		{"unsorted", tree(ent("b", "file"), ent("a", "file"))},
		{"duplicate", tree(ent("a", "file"), ent("a", "file"))},
		{"unknown type", tree(ent("a", "socket"))},
		{"unknown field", tree(`{"name":"a","type":"file","size":1,"id":"` + id + `","mode":420}`)},
		{"unknown top-level field", `{"version":1,"entries":[],"extra":true}`},
		{"symlink without target", tree(`{"name":"l","type":"symlink","size":0,"id":"` + zero + `"}`)},
		{"symlink with id", tree(`{"name":"l","type":"symlink","size":0,"id":"` + id + `","target":"x"}`)},
		{"symlink target NUL", tree(`{"name":"l","type":"symlink","size":0,"id":"` + zero + `","target":"x\u0000"}`)},
		{"file with zero id", tree(`{"name":"a","type":"file","size":1,"id":"` + zero + `"}`)},
		{"file with target", tree(`{"name":"a","type":"file","size":1,"id":"` + id + `","target":"x"}`)},
		{"uppercase id", tree(`{"name":"a","type":"file","size":1,"id":"` + strings.ToUpper(id) + `"}`)},
		{"short id", tree(`{"name":"a","type":"file","size":1,"id":"` + id[:10] + `"}`)},
		{"negative size", tree(`{"name":"a","type":"file","size":-1,"id":"` + id + `"}`)},
		{"fractional size", tree(`{"name":"a","type":"file","size":1.5,"id":"` + id + `"}`)},
		{"version 0", `{"version":0,"entries":[]}`},
		{"version 2", `{"version":2,"entries":[]}`},
		{"no version", `{"entries":[]}`},
		{"trailing object", tree() + tree()},
		{"trailing garbage", tree() + " x"},
		{"not JSON", "DVTREE"},
		{"empty", ""},
		{"array", "[]"},
		{"entries not a list", `{"version":1,"entries":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := DecodeTree([]byte(tc.json)); err == nil {
				t.Fatalf("accepted %s: %+v", tc.json, got)
			}
		})
	}
	// The helpers above do build a good tree.
	if _, err := DecodeTree([]byte(tree(ent("a", "file"), ent("b", "dir")))); err != nil {
		t.Fatalf("good tree refused: %v", err)
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true}, {".hidden", true}, {"...", true}, {"a b", true}, {"日本", true}, {"a\\b", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"/", false}, {"a\x00", false}, {"\xff", false},
	}
	for _, tc := range tests {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// FuzzDecodeTree: no panic; an accepted tree encodes, and its encoding
// decodes to the same tree and is a fixed point.
func FuzzDecodeTree(f *testing.F) {
	for _, tr := range []*Tree{{}, tstTree()} {
		b, err := tr.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	id := Hash(TypeBlob, []byte("x")).String()
	f.Add([]byte(`{"version":1,"entries":[{"name":"..","type":"file","size":1,"id":"` + id + `"}]}`))
	f.Add([]byte(`{"version":1,"entries":[{"name":"l","type":"symlink","size":0,"id":"` + strings.Repeat("0", 64) + `","target":"../x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := DecodeTree(b)
		if err != nil {
			return
		}
		for _, e := range tr.Entries {
			if err := ValidName(e.Name); err != nil {
				t.Fatalf("accepted bad name: %v", err)
			}
		}
		enc, err := tr.Encode()
		if err != nil {
			t.Fatalf("accepted tree does not encode: %v", err)
		}
		back, err := DecodeTree(enc)
		if err != nil {
			t.Fatalf("encoding does not decode: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(back, tr) {
			t.Fatalf("round trip changed the tree:\n got %+v\nwant %+v", back, tr)
		}
		enc2, err := back.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point (%v)", err)
		}
	})
}
