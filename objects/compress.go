package objects

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// Compression of a stored object, recorded per object in packs and indexes.
const (
	compRaw  uint8 = 0 // stored as is
	compZstd uint8 = 1 // one zstd frame
)

// MaxObjectSize bounds the decoded size of any object, so that a damaged or
// hostile index cannot make dv allocate without limit.
const MaxObjectSize = 256 << 20

var (
	codecOnce    sync.Once
	encoder      *zstd.Encoder
	decoder      *zstd.Decoder // for objects up to MaxObjectSize
	chunkDecoder *zstd.Decoder // for chunks: a bomb stops at ChunkMax
	codecErr     error
)

// encoderLevel is the zstd level of stored objects. It decides only how
// small packs are, never an id (ids hash the raw bytes). Measured on the
// chunks of a CSV, of Go source and of random data (docs/FORMATS.md,
// "Compression"): SpeedDefault stores 5-6 % less than SpeedFastest on text
// and CSV but costs 40 % more CPU to add a CSV and 12 % more to add random
// data (P1), so the level stays SpeedFastest.
var encoderLevel = zstd.SpeedFastest

// maxEncoders bounds the encoders (each holds its tables, about 1-2 MiB):
// eight compress random data at 20 GB/s and text at 1.6 GB/s, and keep dv
// add of a large file within P8's 128 MiB on 16 cores.
const maxEncoders = 8

// encoderConcurrencyMin is the fewest CPUs on which EncodeAll calls run
// at once (see codecs).
const encoderConcurrencyMin = 2

// encoderConcurrency is how many EncodeAll calls may run at once.
func encoderConcurrency() int {
	if n := runtime.GOMAXPROCS(0); n >= encoderConcurrencyMin {
		return min(n, maxEncoders)
	}
	return 1
}

// codecs returns the shared zstd encoder and decoder; EncodeAll and
// DecodeAll are safe for concurrent use.
//
// On two or more CPUs the encoder runs up to GOMAXPROCS EncodeAll calls
// at once: with one encoder every chunk of every file queues on it, a
// serial stage of dv add (one core's zstd speed, about 200 MB/s on text).
// On two CPUs it used to stay at one (two encoders had measured 1.7x the
// time of one, with the serial chunker); with large files chunked in
// segments on two CPUs, two encoders add a 128 MiB CSV in 0.56 s against
// 1.09 s (1.04 s of CPU against 1.24 s), and random data in the same time.
// The window is ChunkMax (every chunk fits) so that each encoder stays small.
func codecs() (*zstd.Encoder, *zstd.Decoder, error) {
	codecOnce.Do(func() {
		encoder, codecErr = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(encoderLevel),
			zstd.WithEncoderConcurrency(encoderConcurrency()),
			zstd.WithWindowSize(ChunkMax),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false)) // compress adds it (see there)
		if codecErr != nil {
			return
		}
		decoder, codecErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxObjectSize),
			zstd.WithDecoderMaxWindow(MaxObjectSize))
		if codecErr != nil {
			return
		}
		chunkDecoder, codecErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(ChunkMax),
			zstd.WithDecoderMaxWindow(ChunkMax))
	})
	return encoder, decoder, codecErr
}

// compress returns the stored form of data: zstd, in dst's space, when it
// is smaller; otherwise data itself (not copied).
//
// The frame carries a content checksum, as zstd's encoder writes it: the
// flag in the frame header descriptor and the low 32 bits of the XXH64 of
// data after the last block. The encoder runs without it and compress adds
// the two only when the frame is kept: the checksum of a chunk stored raw
// (random data) cost as much as the attempt to compress it. The bytes are
// the encoder's with its checksum on (TestCompressChecksumAsEncoder).
func compress(dst, data []byte) ([]byte, uint8, error) {
	enc, _, err := codecs()
	if err != nil {
		return nil, 0, err
	}
	if len(data) == 0 {
		return data, compRaw, nil // an empty frame is never smaller
	}
	out := enc.EncodeAll(data, dst[:0])
	if len(out)+4 >= len(data) {
		return data, compRaw, nil
	}
	out[frameDescriptor] |= frameChecksumFlag
	out = binary.LittleEndian.AppendUint32(out, uint32(xxhash.Sum64(data)))
	return out, compZstd, nil
}

// The zstd frame header descriptor follows the 4-byte magic number; bit 2
// says that the frame ends with a content checksum (RFC 8878, 3.1.1.1.1).
const (
	frameDescriptor   = 4
	frameChecksumFlag = 1 << 2
)

// compressPool holds output buffers for compress.
var compressPool = sync.Pool{New: func() any { b := make([]byte, 0, ChunkMax+ChunkMax/8); return &b }}

// decompress returns the raw bytes of a stored object of rawLen bytes.
func decompress(comp uint8, stored []byte, rawLen int) ([]byte, error) {
	switch comp {
	case compRaw:
		if len(stored) != rawLen {
			return nil, fmt.Errorf("stored length %d, expected %d", len(stored), rawLen)
		}
		return stored, nil
	case compZstd:
		_, dec, err := codecs()
		if err != nil {
			return nil, err
		}
		if rawLen > MaxObjectSize {
			return nil, fmt.Errorf("declared size %d over the limit", rawLen)
		}
		if rawLen <= ChunkMax {
			// Whatever the frame claims, decoding stops at ChunkMax.
			dec = chunkDecoder
		}
		out, err := dec.DecodeAll(stored, make([]byte, 0, rawLen))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if len(out) != rawLen {
			return nil, fmt.Errorf("decoded length %d, expected %d", len(out), rawLen)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression %d", comp)
}
