package objects

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"
)

// IDSize is the length of an ID in bytes.
const IDSize = 32

// ID identifies an object: BLAKE3-256 of its type tag and its bytes.
type ID [IDSize]byte

// Type is the kind of an object. Its tag byte is part of the hashed input,
// so equal bytes stored as two different types get two different IDs.
type Type uint8

// Object types. The values are the tag bytes hashed in front of the data and
// are part of the storage format.
const (
	TypeBlob   Type = 'b' // a chunk of file content
	TypeList   Type = 'l' // the ordered chunks of a file larger than one chunk
	TypeTree   Type = 't' // a directory
	TypeRecord Type = 'r' // a provenance record (JSON)
)

func (t Type) String() string {
	switch t {
	case TypeBlob:
		return "blob"
	case TypeList:
		return "list"
	case TypeTree:
		return "tree"
	case TypeRecord:
		return "record"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is one of the known types.
func (t Type) Valid() bool {
	switch t {
	case TypeBlob, TypeList, TypeTree, TypeRecord:
		return true
	}
	return false
}

// Hash returns the ID of data stored as type t.
func Hash(t Type, data []byte) ID {
	h := blake3.New()
	_, _ = h.Write([]byte{byte(t)})
	_, _ = h.Write(data)
	var id ID
	h.Sum(id[:0])
	return id
}

// String returns the id as 64 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits of the id, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:6]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ErrInvalidID is returned for a string that is not 64 lowercase hex digits.
var ErrInvalidID = errors.New("invalid object id")

// ParseID parses 64 lowercase hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize || !isLowerHex(s) {
		return id, fmt.Errorf("%w %q", ErrInvalidID, truncate(s, 80))
	}
	_, err := hex.Decode(id[:], []byte(s))
	if err != nil {
		return id, fmt.Errorf("%w %q", ErrInvalidID, truncate(s, 80))
	}
	return id, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
