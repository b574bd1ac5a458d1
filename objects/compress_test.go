package objects

import (
	"bytes"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestCompressRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		data     []byte
		wantComp uint8
	}{
		{"empty", nil, compRaw},
		{"one byte", []byte("a"), compRaw},
		{"random", tstRand(2, 64<<10), compRaw},
		{"zeros", make([]byte, 64<<10), compZstd},
		{"csv", []byte(strings.Repeat("id,name,value\n1,alpha,0.5\n2,beta,0.25\n", 500)), compZstd},
		{"max chunk compressible", bytes.Repeat([]byte("abcdefgh"), ChunkMax/8), compZstd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// compress reuses dst's space (its content is not kept).
			stored, comp, err := compress([]byte("scratch"), tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if comp != tc.wantComp {
				t.Fatalf("comp = %d, want %d", comp, tc.wantComp)
			}
			switch comp {
			case compRaw:
				if !bytes.Equal(stored, tc.data) {
					t.Fatal("raw stored form differs from the data")
				}
			case compZstd:
				if len(stored) >= len(tc.data) {
					t.Fatalf("zstd form %d bytes, not smaller than %d", len(stored), len(tc.data))
				}
			}
			got, err := decompress(comp, stored, len(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatal("round trip changed the data")
			}
		})
	}
}

func TestDecompressRejects(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("dv "), 1000)
	z, comp, err := compress(nil, data)
	if err != nil || comp != compZstd {
		t.Fatalf("compress: %d, %v", comp, err)
	}
	garbage := append([]byte{0x28, 0xb5, 0x2f, 0xfd}, tstRand(3, 100)...) // zstd magic, then noise
	tests := []struct {
		name   string
		comp   uint8
		stored []byte
		rawLen int
	}{
		{"raw too short", compRaw, []byte("abc"), 4},
		{"raw too long", compRaw, []byte("abcde"), 4},
		{"raw negative length", compRaw, []byte("abc"), -1},
		{"zstd length too small", compZstd, z, len(data) - 1},
		{"zstd length too large", compZstd, z, len(data) + 1},
		{"zstd length zero", compZstd, z, 0},
		{"zstd over the limit", compZstd, z, MaxObjectSize + 1},
		{"zstd truncated", compZstd, z[:len(z)/2], len(data)},
		{"zstd garbage", compZstd, tstRand(4, 200), 200},
		{"zstd garbage after magic", compZstd, garbage, 100},
		{"zstd of raw bytes", compZstd, data, len(data)},
		{"unknown comp 2", 2, data, len(data)},
		{"unknown comp 255", 255, data, len(data)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decompress(tc.comp, tc.stored, tc.rawLen)
			if err == nil {
				t.Fatalf("decompress accepted it and returned %d bytes", len(got))
			}
		})
	}
}

// FuzzDecompress feeds arbitrary stored forms to decompress: it must not
// panic, and what it accepts must have the declared length and survive a
// compress/decompress round trip.
func FuzzDecompress(f *testing.F) {
	for _, data := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte("ab"), 300), tstRand(5, 300)} {
		stored, comp, err := compress(nil, data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(comp, stored, uint32(len(data)))
		f.Add(compZstd, stored, uint32(len(data)+1))
	}
	f.Add(uint8(7), []byte("x"), uint32(1))
	f.Fuzz(func(t *testing.T, comp uint8, stored []byte, rawLen uint32) {
		// Keep allocations small: decompress preallocates rawLen bytes.
		n := int(rawLen % (1 << 20))
		out, err := decompress(comp, stored, n)
		if err != nil {
			return
		}
		if len(out) != n {
			t.Fatalf("decompress returned %d bytes, declared %d", len(out), n)
		}
		again, comp2, err := compress(nil, out)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decompress(comp2, again, n)
		if err != nil {
			t.Fatalf("re-compressed form does not decompress: %v", err)
		}
		if !bytes.Equal(back, out) {
			t.Fatal("round trip changed the data")
		}
	})
}

// TestCompressChecksumAsEncoder checks that compress, which adds the
// frame's content checksum itself, stores exactly the bytes of zstd's
// encoder with its checksum on (as dv stored before), and chooses raw for
// exactly the same inputs: on random, CSV, text, zeros and mixed data, of
// sizes from one byte to several zstd blocks and past ChunkMax.
func TestCompressChecksumAsEncoder(t *testing.T) {
	t.Parallel()
	ref, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(encoderLevel),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(ChunkMax),
		zstd.WithZeroFrames(true),
		zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	rnd := tstRand(21, 1<<20)
	csv := benchCSV(22, 1<<20)
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 30000))
	mixed := append(append(append([]byte(nil), rnd[:100<<10]...), make([]byte, 60<<10)...), csv[:200<<10]...)
	almost := append([]byte(nil), rnd[:ChunkMax]...) // random but for a few repeats
	copy(almost[1000:], almost[:64])
	copy(almost[100000:], almost[50000:50200])
	inputs := map[string][]byte{"random": rnd, "csv": csv, "text": text, "zeros": make([]byte, 1<<20), "mixed": mixed, "almost random": almost}
	sizes := []int{1, 2, 7, 64, 100, 1000, 4096, ChunkMin, 50_000, 128<<10 - 1, 128 << 10, 128<<10 + 1, 200_000, ChunkMax, ChunkMax + 1, 1 << 20}
	var dst []byte
	for name, in := range inputs {
		for _, n := range sizes {
			if n > len(in) {
				continue
			}
			data := in[:n]
			want := ref.EncodeAll(data, nil)
			got, comp, err := compress(dst, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < len(data) {
				if comp != compZstd || !bytes.Equal(got, want) {
					t.Fatalf("%s[:%d]: compress gave comp %d, %d bytes; the encoder with its checksum %d bytes (equal %v)",
						name, n, comp, len(got), len(want), bytes.Equal(got, want))
				}
				dst = got[:0]
			} else if comp != compRaw || !bytes.Equal(got, data) {
				t.Fatalf("%s[:%d]: compress gave comp %d; want raw (the encoder's frame is %d bytes)", name, n, comp, len(want))
			}
			back, err := decompress(comp, got, n)
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("%s[:%d]: round trip: %v", name, n, err)
			}
		}
	}
}
