package objects

import (
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// A zstd frame that expands to far more than its recorded size is refused
// without decoding it all: a chunk's decoder stops at ChunkMax.
func TestDecompressBomb(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	bomb := enc.EncodeAll(make([]byte, 64<<20), nil) // 64 MiB of zeros, a few KiB stored
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := decompress(compZstd, bomb, 1000); err == nil {
		t.Fatal("a 64 MiB frame recorded as 1000 bytes was accepted")
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 16<<20 {
		t.Fatalf("decoding the bomb allocated %d MiB", grown>>20)
	}
	e := Entry{ID: Hash(TypeBlob, nil), Type: TypeBlob, Comp: compZstd, Offset: 8, Length: uint32(len(bomb)), RawLen: 1000}
	if err := VerifyStored(e, bomb); err == nil {
		t.Fatal("VerifyStored accepted a bomb")
	}
}
