package objects

import (
	"encoding/binary"
	"fmt"

	"github.com/zeebo/blake3"
)

// Index file layout (version 1, see docs/FORMATS.md):
//
//	"DVINDEX1"
//	then for each pack:  pack id (32 bytes), count uint32 LE, entry × count
//
// An index file is named by the BLAKE3-256 of its content.
const indexHeader = "DVINDEX1"

// PackIndex lists the objects of one pack.
type PackIndex struct {
	Pack    ID
	Entries []Entry
}

// EncodeIndex returns the bytes of an index file and its name.
func EncodeIndex(packs []PackIndex) ([]byte, string) {
	n := len(indexHeader)
	for _, p := range packs {
		n += IDSize + 4 + len(p.Entries)*packEntrySize
	}
	b := make([]byte, 0, n)
	b = append(b, indexHeader...)
	for _, p := range packs {
		b = append(b, p.Pack[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Entries)))
		for _, e := range p.Entries {
			b = encodeEntry(b, e)
		}
	}
	return b, fileName(b)
}

// fileName is the name of a pack or index file with content b.
func fileName(b []byte) string {
	sum := blake3.Sum256(b)
	return ID(sum).String()
}

// DecodeIndex parses an index file, checking every field.
func DecodeIndex(b []byte) ([]PackIndex, error) {
	if len(b) < len(indexHeader) || string(b[:len(indexHeader)]) != indexHeader {
		return nil, fmt.Errorf("not a dv index (bad header)")
	}
	b = b[len(indexHeader):]
	var packs []PackIndex
	for len(b) > 0 {
		if len(b) < IDSize+4 {
			return nil, fmt.Errorf("truncated index")
		}
		var p PackIndex
		copy(p.Pack[:], b)
		n := binary.LittleEndian.Uint32(b[IDSize:])
		b = b[IDSize+4:]
		if uint64(n)*packEntrySize > uint64(len(b)) {
			return nil, fmt.Errorf("truncated index: pack %s claims %d entries", p.Pack.Short(), n)
		}
		p.Entries = make([]Entry, n)
		for i := range p.Entries {
			p.Entries[i] = decodeEntry(b[i*packEntrySize:])
			if err := p.Entries[i].check(0); err != nil {
				return nil, fmt.Errorf("pack %s: %w", p.Pack.Short(), err)
			}
		}
		b = b[int(n)*packEntrySize:]
		packs = append(packs, p)
	}
	return packs, nil
}
