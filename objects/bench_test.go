package objects

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// Benchmarks of the store's hot paths; the end-to-end figures are in
// cmd/dvbench. Run with: go test ./objects -run '^$' -bench . -benchmem

const benchBlob = 64 << 10 // the average chunk size

// benchCSV returns n bytes of CSV rows like the benchmark's W4 workload:
// about 100-byte rows of ids, times, readings and words.
func benchCSV(seed uint64, n int) []byte {
	words := []string{"north", "field", "pump", "valve", "reading", "stable", "drift", "sensor",
		"tank", "level", "nominal", "check", "grid", "flow", "low", "high", "rain", "dry"}
	rng := splitMix64{seed}
	b := make([]byte, 0, n+128)
	for i := 0; len(b) < n; i++ {
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, 1_700_000_000+int64(i)*7, 10)
		b = append(b, ",sensor_"...)
		b = strconv.AppendUint(b, rng.next()%500, 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, float64(rng.next()%100000)/1000, 'f', 3, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, float64(rng.next()%10000)/100, 'f', 2, 64)
		b = append(b, ",ok,"...)
		start := len(b)
		for len(b)-start < 40 {
			b = append(b, words[rng.next()%uint64(len(words))]...)
			b = append(b, ' ')
		}
		b[len(b)-1] = '\n'
	}
	return b[:n]
}

// benchStore returns an empty store in a temporary directory.
func benchStore(b *testing.B) *Store {
	b.Helper()
	dir := b.TempDir()
	if err := Init(dir); err != nil {
		b.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// fillStore stores count distinct 64 KiB objects made from base and
// returns their ids.
func fillStore(b *testing.B, s *Store, base []byte, count int) []ID {
	b.Helper()
	ctx := context.Background()
	w := s.NewWriter()
	ids := make([]ID, count)
	buf := bytes.Clone(base)
	for i := range ids {
		binary.LittleEndian.PutUint64(buf, uint64(i))
		id, err := w.Put(ctx, TypeBlob, buf)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = id
	}
	if err := w.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return ids
}

func BenchmarkHash(b *testing.B) {
	data := randBytes(testSeed, benchBlob)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Hash(TypeBlob, data)
	}
}

func BenchmarkCompress(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"random", randBytes(testSeed, benchBlob)}, {"csv", benchCSV(1, benchBlob)}} {
		b.Run(c.name, func(b *testing.B) {
			var dst []byte
			var stored int
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				out, comp, err := compress(dst[:0], c.data)
				if err != nil {
					b.Fatal(err)
				}
				if stored = len(out); comp == compZstd { // a raw out is c.data itself
					dst = out
				}
			}
			b.ReportMetric(float64(stored)/float64(len(c.data)), "ratio")
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	data := benchCSV(1, benchBlob)
	stored, comp, err := compress(nil, data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decompress(comp, stored, len(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriterPut stores distinct 64 KiB blobs; full packs are synced
// and indexed inside Put, so their cost is included.
func BenchmarkWriterPut(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"random", randBytes(testSeed, benchBlob)}, {"csv", benchCSV(1, benchBlob)}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			w := benchStore(b).NewWriter()
			buf := bytes.Clone(c.data)
			b.SetBytes(int64(len(buf)))
			i := uint64(0)
			for b.Loop() {
				i++
				binary.LittleEndian.PutUint64(buf, i)
				if _, err := w.Put(ctx, TypeBlob, buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkPutFile chunks, hashes and (with a Writer) compresses and stores
// a 64 MiB random stream, as dv add does for one big file.
func BenchmarkPutFile(b *testing.B) {
	data := randBytes(testSeed+1, 64<<20)
	jobs := runtime.GOMAXPROCS(0)
	ctx := context.Background()
	b.Run("HashOnly", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, _, err := PutFile(ctx, HashOnly{}, bytes.NewReader(data), jobs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Writer", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			w := benchStore(b).NewWriter() // a fresh store: nothing deduplicates
			b.StartTimer()
			if _, _, err := PutFile(ctx, w, bytes.NewReader(data), jobs); err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad reads, decompresses and verifies 64 KiB objects.
func BenchmarkLoad(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"random", randBytes(testSeed, benchBlob)}, {"csv", benchCSV(1, benchBlob)}} {
		b.Run(c.name, func(b *testing.B) {
			s := benchStore(b)
			ids := fillStore(b, s, c.data, 256)
			ctx := context.Background()
			b.SetBytes(benchBlob)
			i := 0
			for b.Loop() {
				if _, _, err := s.Load(ctx, ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// benchIndex returns a store whose in-memory index holds n objects (as
// after opening a store of n objects) and their ids.
func benchIndex(b *testing.B, n int) (*Store, []ID) {
	s := benchStore(b)
	ids := make([]ID, n)
	raw := randBytes(testSeed+2, n*IDSize)
	p := PackIndex{Pack: ID{1}, Entries: make([]Entry, n)}
	for i := range ids {
		copy(ids[i][:], raw[i*IDSize:])
		p.Entries[i] = Entry{ID: ids[i], Type: TypeBlob, Offset: uint64(len(packHeader) + i*benchBlob), Length: benchBlob, RawLen: benchBlob}
	}
	if err := s.writeIndex([]PackIndex{p}); err != nil {
		b.Fatal(err)
	}
	return s, ids
}

// BenchmarkIndexLookup looks ids up among 100k indexed objects.
func BenchmarkIndexLookup(b *testing.B) {
	s, ids := benchIndex(b, 100_000)
	b.Run("hit", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if !s.Has(ids[i%len(ids)]) {
				b.Fatal("missing id")
			}
			i++
		}
	})
	b.Run("miss", func(b *testing.B) {
		var id ID
		i := uint64(0)
		for b.Loop() {
			i++
			binary.LittleEndian.PutUint64(id[:], i)
			if s.Has(id) {
				b.Fatal("unexpected id")
			}
		}
	})
}

// BenchmarkStoreOpen opens a store with 100k indexed objects, as every dv
// command does (part of the cost of P3's dv status).
func BenchmarkStoreOpen(b *testing.B) {
	s, _ := benchIndex(b, 100_000)
	for b.Loop() {
		o, err := Open(s.Dir())
		if err != nil {
			b.Fatal(err)
		}
		if o.Count() != 100_000 {
			b.Fatalf("%d objects", o.Count())
		}
	}
}

// BenchmarkReadFile reads a 16 MiB multi-chunk file back, verifying every
// chunk, as dv checkout does.
func BenchmarkReadFile(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{{"random", randBytes(testSeed+3, 16<<20)}, {"csv", benchCSV(3, 16<<20)}} {
		b.Run(c.name, func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			w := s.NewWriter()
			id, _, err := PutFile(ctx, w, bytes.NewReader(c.data), 2)
			if err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				n, err := s.ReadFile(ctx, id, io.Discard)
				if err != nil || n != int64(len(c.data)) {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}

// BenchmarkPutFileAt is BenchmarkPutFile through the segment-parallel
// chunker, from a file in a temporary folder (as dv add reads it), with
// jobs 1 (the serial chunker), 2 and 8 (segments, whatever GOMAXPROCS).
func BenchmarkPutFileAt(b *testing.B) {
	data := randBytes(testSeed+1, 64<<20)
	path := b.TempDir() + "/f"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	for _, jobs := range []int{1, 2, 8} { // 1: PutFile's path; 2 and 8: segments
		b.Run("HashOnly/jobs="+strconv.Itoa(jobs), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := PutFileAt(ctx, HashOnly{}, f, int64(len(data)), jobs, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Writer/jobs="+strconv.Itoa(jobs), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				w := benchStore(b).NewWriter()
				b.StartTimer()
				if _, _, err := PutFileAt(ctx, w, f, int64(len(data)), jobs, nil); err != nil {
					b.Fatal(err)
				}
				if err := w.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChunkParallel measures the segment-parallel chunker alone
// (cut points only, no hashing) against BenchmarkChunker.
func BenchmarkChunkParallel(b *testing.B) {
	data := randBytes(12345, 64<<20)
	put := func(context.Context, []byte) (ID, error) { return ID{}, nil }
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := chunkParallel(context.Background(), bytes.NewReader(data), int64(len(data)), segmentSize, runtime.GOMAXPROCS(0), put, nil); err != nil {
			b.Fatal(err)
		}
	}
}
