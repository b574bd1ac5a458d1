package objects

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

func TestHashIsBlake3OfTagAndData(t *testing.T) {
	t.Parallel()
	for _, data := range [][]byte{nil, []byte("x"), tstRand(1, 5000)} {
		for _, typ := range []Type{TypeBlob, TypeList, TypeTree, TypeRecord} {
			want := blake3.Sum256(append([]byte{byte(typ)}, data...))
			if got := Hash(typ, data); got != ID(want) {
				t.Errorf("Hash(%s, %d bytes) = %s, want %x", typ, len(data), got, want)
			}
		}
	}
}

func TestHashTypeTagChangesID(t *testing.T) {
	t.Parallel()
	data := []byte(`{"version":1,"entries":[]}`)
	types := []Type{TypeBlob, TypeList, TypeTree, TypeRecord}
	seen := map[ID]Type{}
	for _, typ := range types {
		id := Hash(typ, data)
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s have the same id %s", typ, other, id)
		}
		seen[id] = typ
		if Hash(typ, data) != id {
			t.Errorf("Hash(%s) is not deterministic", typ)
		}
	}
	if Hash(TypeBlob, []byte("a")) == Hash(TypeBlob, []byte("b")) {
		t.Error("different data, same id")
	}
}

func TestTypeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ   Type
		want  string
		valid bool
	}{
		{TypeBlob, "blob", true},
		{TypeList, "list", true},
		{TypeTree, "tree", true},
		{TypeRecord, "record", true},
		{Type(0), "type(0)", false},
		{Type('x'), "type(120)", false},
	}
	for _, tc := range tests {
		if got := tc.typ.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		if got := tc.typ.Valid(); got != tc.valid {
			t.Errorf("%s.Valid() = %v, want %v", tc.want, got, tc.valid)
		}
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	id := Hash(TypeBlob, []byte("hello"))
	s := id.String()
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"canonical", s, true},
		{"zero", strings.Repeat("0", 64), true},
		{"uppercase", strings.ToUpper(s), false},
		{"one uppercase digit", "A" + s[1:], false},
		{"short", s[:63], false},
		{"prefix", s[:8], false},
		{"long", s + "0", false},
		{"empty", "", false},
		{"non-hex", "g" + s[1:], false},
		{"space", " " + s[1:], false},
		{"trailing newline", s[:63] + "\n", false},
		{"0x prefix", "0x" + s[2:], false},
		{"multibyte", "é" + s[2:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseID(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ParseID(%q): %v", tc.in, err)
				}
				if got.String() != tc.in {
					t.Fatalf("ParseID(%q).String() = %q", tc.in, got)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseID(%q) = %s, want an error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("ParseID(%q): %v does not match ErrInvalidID", tc.in, err)
			}
		})
	}
}

func TestIDFormats(t *testing.T) {
	t.Parallel()
	id := Hash(TypeTree, []byte("t"))
	s := id.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q, want 64 lowercase hex digits", s)
	}
	if id.Short() != s[:12] {
		t.Errorf("Short() = %q, want %q", id.Short(), s[:12])
	}
	if id.IsZero() || !(ID{}).IsZero() {
		t.Error("IsZero wrong")
	}
	b, err := json.Marshal(map[string]ID{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"`+s+`"}` {
		t.Errorf("json = %s", b)
	}
	var back map[string]ID
	if err := json.Unmarshal(b, &back); err != nil || back["id"] != id {
		t.Errorf("json round trip: %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"id":"`+strings.ToUpper(s)+`"}`), &back); !errors.Is(err, ErrInvalidID) {
		t.Errorf("unmarshal uppercase id: %v, want ErrInvalidID", err)
	}
}
