package objects

import (
	"encoding/binary"
	"fmt"
)

// List layout (version 1): "DVLIST1\n", count uint32 LE, then per chunk its
// blob id (32 bytes) and size uint32 LE. A file of more than one chunk is
// stored as a List of its chunks in order.
const listHeader = "DVLIST1\n"

// ChunkRef is one chunk of a file.
type ChunkRef struct {
	ID   ID
	Size uint32
}

// EncodeList returns the bytes of a list object.
func EncodeList(chunks []ChunkRef) []byte {
	b := make([]byte, 0, len(listHeader)+4+len(chunks)*(IDSize+4))
	b = append(b, listHeader...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(chunks)))
	for _, c := range chunks {
		b = append(b, c.ID[:]...)
		b = binary.LittleEndian.AppendUint32(b, c.Size)
	}
	return b
}

// DecodeList parses and checks a list object.
func DecodeList(b []byte) ([]ChunkRef, error) {
	if len(b) < len(listHeader)+4 || string(b[:len(listHeader)]) != listHeader {
		return nil, fmt.Errorf("list: bad header")
	}
	n := binary.LittleEndian.Uint32(b[len(listHeader):])
	b = b[len(listHeader)+4:]
	if uint64(len(b)) != uint64(n)*(IDSize+4) {
		return nil, fmt.Errorf("list: %d entries do not fit %d bytes", n, len(b))
	}
	chunks := make([]ChunkRef, n)
	for i := range chunks {
		copy(chunks[i].ID[:], b)
		chunks[i].Size = binary.LittleEndian.Uint32(b[IDSize:])
		if chunks[i].Size == 0 || chunks[i].Size > ChunkMax {
			return nil, fmt.Errorf("list: chunk %d has size %d", i, chunks[i].Size)
		}
		b = b[IDSize+4:]
	}
	return chunks, nil
}
