package objects

import (
	"context"
	"fmt"

	"github.com/zeebo/blake3"
)

// PackPath returns the file of the pack id.
func (s *Store) PackPath(id ID) string { return s.packPath(id) }

// Packs returns the stored objects grouped by pack.
func (s *Store) Packs() map[ID][]Entry {
	by := map[ID][]Entry{}
	s.Each(func(l Loc) { by[l.Pack] = append(by[l.Pack], l.Entry) })
	return by
}

// LoadStored returns an object's stored (possibly compressed) bytes after
// verifying them, for copying to another store without recompressing.
func (s *Store) LoadStored(ctx context.Context, id ID) (Entry, []byte, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, nil, err
	}
	l, ok := s.Lookup(id)
	if !ok {
		return Entry{}, nil, &NotFoundError{ID: id}
	}
	l, stored, err := s.readStored(id, l)
	if err != nil {
		return Entry{}, nil, err
	}
	if err := VerifyStored(l.Entry, stored); err != nil {
		return Entry{}, nil, &CorruptError{What: "object", Name: id.String(), Reason: fmt.Sprintf("in pack %s: %v", l.Pack.Short(), err), Err: err}
	}
	return l.Entry, stored, nil
}

// VerifyStored checks that stored bytes decode to the object e names.
func VerifyStored(e Entry, stored []byte) error {
	_, err := DecodeStored(e, stored)
	return err
}

// DecodeStored returns the content of the object e names from its stored
// bytes, after checking that it hashes to e's id. The content may share
// memory with stored (an object stored raw).
func DecodeStored(e Entry, stored []byte) ([]byte, error) {
	if err := e.check(0); err != nil {
		return nil, err
	}
	if uint32(len(stored)) != e.Length {
		return nil, fmt.Errorf("stored length %d, expected %d", len(stored), e.Length)
	}
	data, err := decompress(e.Comp, stored, int(e.RawLen))
	if err != nil {
		return nil, err
	}
	if Hash(e.Type, data) != e.ID {
		return nil, fmt.Errorf("content does not match its id")
	}
	return data, nil
}

// PutStored adds an object in its stored form (as read from another
// store), unless present. The caller must have verified it (VerifyStored).
func (w *Writer) PutStored(ctx context.Context, e Entry, stored []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.Has(e.ID) {
		return nil
	}
	return w.append(e.ID, e.Type, e.Comp, stored, int(e.RawLen))
}

// PackBuilder assembles a pack in memory from stored objects, for upload.
type PackBuilder struct {
	buf     []byte
	entries []Entry
}

// NewPackBuilder returns an empty pack.
func NewPackBuilder() *PackBuilder {
	return &PackBuilder{buf: append(make([]byte, 0, PackTargetSize+ChunkMax), packHeader...)}
}

// Add appends a stored object.
func (b *PackBuilder) Add(e Entry, stored []byte) {
	e.Offset = uint64(len(b.buf))
	e.Length = uint32(len(stored))
	b.buf = append(b.buf, stored...)
	b.entries = append(b.entries, e)
}

// Size returns the pack's size so far.
func (b *PackBuilder) Size() int { return len(b.buf) }

// Len returns the number of objects.
func (b *PackBuilder) Len() int { return len(b.entries) }

// Finish returns the pack's bytes, its id and its index entries.
func (b *PackBuilder) Finish() ([]byte, PackIndex) {
	out := b.buf
	start := len(out)
	for _, e := range b.entries {
		out = encodeEntry(out, e)
	}
	out = appendUint32(out, uint32(len(b.entries)))
	out = append(out, packFooter...)
	id := ID(blake3.Sum256(out[start:]))
	return out, PackIndex{Pack: id, Entries: b.entries}
}

// StoredChildren returns the ids a verified stored object names.
func StoredChildren(e Entry, stored []byte) ([]ID, error) {
	data, err := decompress(e.Comp, stored, int(e.RawLen))
	if err != nil {
		return nil, corrupt("object", e.ID.String(), "%v", err)
	}
	return children(e.ID, e.Type, data)
}
