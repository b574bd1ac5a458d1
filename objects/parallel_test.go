package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// parallelLengths chunks data in segments of segSize bytes and returns the
// chunk lengths; it also checks that every chunk's id is its content's.
func parallelLengths(t *testing.T, data []byte, segSize int64, jobs int) []int {
	t.Helper()
	put := func(_ context.Context, b []byte) (ID, error) { return Hash(TypeBlob, b), nil }
	refs, err := chunkParallel(context.Background(), bytes.NewReader(data), int64(len(data)), segSize, jobs, put, nil)
	if err != nil {
		t.Fatalf("chunkParallel(%d bytes, segment %d): %v", len(data), segSize, err)
	}
	l := make([]int, len(refs))
	var off int
	for i, r := range refs {
		l[i] = int(r.Size)
		if r.ID != Hash(TypeBlob, data[off:off+l[i]]) {
			t.Fatalf("chunk %d: id does not match its bytes", i)
		}
		off += l[i]
	}
	return l
}

// checkParallel compares the parallel chunker with the serial one on data
// for each segment size.
func checkParallel(t *testing.T, name string, data []byte, segSizes ...int64) {
	t.Helper()
	want := splitWith(data, cutPoint)
	for _, s := range segSizes {
		for _, jobs := range []int{1, 2, 3, 8} {
			got := parallelLengths(t, data, s, jobs)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s (%d bytes), segment %d, jobs %d: %d chunks differ from the serial chunker's %d\n got  %v\n want %v",
					name, len(data), s, jobs, len(got), len(want), head(got), head(want))
			}
		}
	}
}

func head(l []int) []int {
	if len(l) > 12 {
		return l[:12]
	}
	return l
}

// TestParallelChunkingEqualsSerial proves the segment-parallel chunker
// gives exactly the serial chunker's cut points, on random data and on
// inputs built to defeat the resynchronisation.
func TestParallelChunkingEqualsSerial(t *testing.T) {
	rnd := randBytes(testSeed+7, 6<<20)
	odd := []int64{ChunkMax, ChunkMax + 1, 300_001, 1 << 20, 1<<20 + 4099}

	t.Run("random", func(t *testing.T) {
		checkParallel(t, "random", rnd, odd...)
	})
	t.Run("sizes around segment multiples", func(t *testing.T) {
		const seg = 1 << 20
		for _, k := range []int64{1, 2, 3} {
			for _, d := range []int64{-ChunkMax - 1, -ChunkMin, -65, -1, 0, 1, 63, ChunkMin, ChunkMax, ChunkMax + 1} {
				n := k*seg + d
				if n <= 0 || n > int64(len(rnd)) {
					continue
				}
				checkParallel(t, fmt.Sprintf("random[:%d]", n), rnd[:n], seg)
			}
		}
	})
	t.Run("segment joins at and near serial cuts", func(t *testing.T) {
		data := rnd[:3<<20]
		cuts := splitWith(data, cutPoint)
		var pos []int64
		var p int64
		for _, n := range cuts[:40] {
			p += int64(n)
			pos = append(pos, p)
		}
		// Segments that end exactly at a cut, just before or after it, and
		// at ChunkMin/ChunkMax distances from it.
		var segs []int64
		for _, c := range pos {
			for _, d := range []int64{-ChunkMin, -64, -1, 0, 1, 64, ChunkMin} {
				if s := c + d; s >= ChunkMax {
					segs = append(segs, s)
				}
			}
		}
		checkParallel(t, "cut-aligned", data, segs...)
	})
	t.Run("zeros", func(t *testing.T) {
		// No cut anywhere: every chunk is ChunkMax long, and chains started
		// at offsets that are not multiples of ChunkMax never meet.
		zeros := make([]byte, 5<<20+12345)
		checkParallel(t, "zeros", zeros, ChunkMax, ChunkMax+1, 1<<20+7, 1<<20)
	})
	t.Run("periodic", func(t *testing.T) {
		// A random block repeated: cut points repeat with it, some blocks
		// shorter than ChunkMin (cuts only by ChunkMax), some longer.
		for _, period := range []int{1000, ChunkMin - 1, 70_000, ChunkMax + 3} {
			block := randBytes(uint64(period), period)
			data := bytes.Repeat(block, (4<<20)/period+1)
			checkParallel(t, fmt.Sprintf("period %d", period), data, ChunkMax+5, 1<<20, int64(1<<20+period/2))
		}
	})
	t.Run("mixed", func(t *testing.T) {
		// Random, a long run of zeros, text, random: the joins fall inside
		// each kind of stretch.
		var data []byte
		data = append(data, rnd[:1<<20+333]...)
		data = append(data, make([]byte, 1<<20+ChunkMin)...)
		data = append(data, bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 30000)...)
		data = append(data, rnd[2<<20:3<<20]...)
		checkParallel(t, "mixed", data, ChunkMax, 400_000, 1<<20, 1<<20+1)
	})
	t.Run("tiny", func(t *testing.T) {
		for _, n := range []int{1, ChunkMin, ChunkMin + 1, ChunkMax, ChunkMax + 1} {
			checkParallel(t, fmt.Sprintf("random[:%d]", n), rnd[:n], ChunkMax)
		}
	})
}

// TestPutFileAtEqualsPutFile checks the public entry point (its real
// segment size) against PutFile, through a real file and a Writer.
func TestPutFileAtEqualsPutFile(t *testing.T) {
	ctx := context.Background()
	data := randBytes(testSeed+9, 2*segmentSize+ChunkMax+17)
	copy(data[segmentSize-ChunkMin:], make([]byte, 2*ChunkMax)) // zeros across the first join
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, wn, err := PutFile(ctx, HashOnly{}, bytes.NewReader(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{int64(len(data)), parallelMin - 1, parallelMin, parallelMin + 1} {
		want, wn := want, wn
		if size != int64(len(data)) {
			if want, wn, err = PutFile(ctx, HashOnly{}, bytes.NewReader(data[:size]), 2); err != nil {
				t.Fatal(err)
			}
		}
		var read atomic.Int64 // progress is called by segments at once
		s, _ := tstStore(t)
		w := s.NewWriter()
		got, n, err := PutFileAt(ctx, w, io.NewSectionReader(f, 0, size), size, 4, func(k int64) { read.Add(k) })
		if err != nil {
			t.Fatal(err)
		}
		if got != want || n != wn || read.Load() != size {
			t.Fatalf("size %d: PutFileAt = %s, %d bytes (%d read); PutFile = %s, %d", size, got.Short(), n, read.Load(), want.Short(), wn)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := s.ReadFile(ctx, got, &out); err != nil || !bytes.Equal(out.Bytes(), data[:size]) {
			t.Fatalf("size %d: reading back: %v (equal %v)", size, err, bytes.Equal(out.Bytes(), data[:size]))
		}
	}
	// A size that does not match the file is an error, not a wrong id, on
	// the serial path (jobs 1) and the parallel one (2 and 4).
	for _, jobs := range []int{1, 2, 4} {
		if _, _, err := PutFileAt(ctx, HashOnly{}, f, int64(len(data))+1, jobs, nil); err == nil || !strings.Contains(err.Error(), "changed while being read") {
			t.Fatalf("jobs %d: file shorter than its size: err = %v", jobs, err)
		}
		if _, _, err := PutFileAt(ctx, HashOnly{}, f, int64(len(data))-1, jobs, nil); err == nil || !strings.Contains(err.Error(), "changed while being read") {
			t.Fatalf("jobs %d: file longer than its size: err = %v", jobs, err)
		}
	}
}

// TestChunkParallelStopsOnError checks that a failing put stops the work
// and its error comes back.
func TestChunkParallelStopsOnError(t *testing.T) {
	data := randBytes(testSeed+11, 4<<20)
	boom := errors.New("boom")
	put := func(context.Context, []byte) (ID, error) { return ID{}, boom }
	_, err := chunkParallel(context.Background(), bytes.NewReader(data), int64(len(data)), ChunkMax+1, 1, put, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}
