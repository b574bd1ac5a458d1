package objects

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

func tstChunks(n int) []ChunkRef {
	out := make([]ChunkRef, n)
	for i := range out {
		out[i] = ChunkRef{ID: Hash(TypeBlob, []byte{byte(i), byte(i >> 8)}), Size: uint32(1 + i*997%ChunkMax)}
	}
	return out
}

func TestListRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []ChunkRef
	}{
		{"empty", []ChunkRef{}},
		{"one", tstChunks(1)},
		{"max size", []ChunkRef{{ID: Hash(TypeBlob, nil), Size: ChunkMax}}},
		{"many", tstChunks(1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := EncodeList(tc.chunks)
			if len(b) != len(listHeader)+4+len(tc.chunks)*(IDSize+4) {
				t.Fatalf("encoded length %d", len(b))
			}
			got, err := DecodeList(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.chunks) {
				t.Fatal("round trip changed the list")
			}
		})
	}
}

func TestDecodeListRefuses(t *testing.T) {
	t.Parallel()
	good := EncodeList(tstChunks(3))
	mutate := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		fn(b)
		return b
	}
	sizeAt := func(i int) int { return len(listHeader) + 4 + i*(IDSize+4) + IDSize }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"header only", []byte(listHeader)},
		{"bad header", mutate(func(b []byte) { b[0] = 'X' })},
		{"count too high", mutate(func(b []byte) { b[len(listHeader)] = 4 })},
		{"count too low", mutate(func(b []byte) { b[len(listHeader)] = 2 })},
		{"count 2^32-1", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[len(listHeader):], 0xffffffff) })},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(append([]byte(nil), good...), 0)},
		{"zero-size chunk", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[sizeAt(1):], 0) })},
		{"chunk over ChunkMax", mutate(func(b []byte) { binary.LittleEndian.PutUint32(b[sizeAt(2):], ChunkMax+1) })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := DecodeList(tc.b); err == nil {
				t.Fatalf("accepted: %d chunks", len(got))
			}
		})
	}
}

// FuzzDecodeList: no panic, and an accepted list re-encodes to the same
// bytes.
func FuzzDecodeList(f *testing.F) {
	f.Add(EncodeList(nil))
	f.Add(EncodeList(tstChunks(1)))
	f.Add(EncodeList(tstChunks(4)))
	f.Add([]byte(listHeader + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		chunks, err := DecodeList(b)
		if err != nil {
			return
		}
		for i, c := range chunks {
			if c.Size == 0 || c.Size > ChunkMax {
				t.Fatalf("chunk %d accepted with size %d", i, c.Size)
			}
		}
		if again := EncodeList(chunks); !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
	})
}
