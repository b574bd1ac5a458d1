package objects

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// splitMix64 is the SplitMix64 generator (Steele, Lea, Flood 2014), used both
// to generate the gear table and the deterministic test inputs.
type splitMix64 struct{ state uint64 }

func (s *splitMix64) next() uint64 {
	s.state += 0x9e3779b97f4a7c15
	z := s.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// randBytes returns n bytes of the SplitMix64 stream started at seed, each
// output written little-endian.
func randBytes(seed uint64, n int) []byte {
	s := splitMix64{seed}
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := s.next()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// testSeed seeds the input of the pinned test vectors.
const testSeed = 0x64762d7465737431 // "dv-test1"

// chunkStream chunks r with a Chunker and returns copies of the chunks.
func chunkStream(t testing.TB, c *Chunker) [][]byte {
	t.Helper()
	var chunks [][]byte
	for {
		b, err := c.Next()
		if err == io.EOF {
			if b != nil {
				t.Fatalf("Next returned io.EOF with a non-nil slice")
			}
			return chunks
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if len(b) == 0 {
			t.Fatalf("Next returned an empty chunk")
		}
		chunks = append(chunks, bytes.Clone(b))
	}
}

func chunkBytes(t testing.TB, data []byte) [][]byte {
	t.Helper()
	return chunkStream(t, NewChunker(bytes.NewReader(data)))
}

func lengths(chunks [][]byte) []int {
	l := make([]int, len(chunks))
	for i, c := range chunks {
		l[i] = len(c)
	}
	return l
}

// splitWith returns the chunk lengths of data using the cut-point function cp
// on the in-memory buffer.
func splitWith(data []byte, cp func([]byte) int) []int {
	var l []int
	for len(data) > 0 {
		n := cp(data)
		l = append(l, n)
		data = data[n:]
	}
	return l
}

// refCutPoint is a slow, literal transcription of the cut-point rule of
// docs/CHUNKING.md, to check the optimized cutPoint against.
func refCutPoint(data []byte) int {
	if len(data) <= ChunkMin {
		return len(data)
	}
	limit := min(len(data), ChunkMax)
	for L := ChunkMin; L <= limit; L++ {
		var h uint64
		for j := 0; j < 64; j++ {
			h += gear[data[L-1-j]] << j
		}
		mask := maskL
		if L < ChunkAvg {
			mask = maskS
		}
		if h&mask == 0 {
			return L
		}
	}
	return limit
}

// checkChunks checks that chunks reassemble to data and respect the bounds.
func checkChunks(t testing.TB, data []byte, chunks [][]byte) {
	t.Helper()
	if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
		t.Fatalf("chunks do not reassemble the input (%d bytes vs %d)", len(got), len(data))
	}
	if len(data) == 0 && len(chunks) != 0 {
		t.Fatalf("empty input gave %d chunks", len(chunks))
	}
	for i, c := range chunks {
		if len(c) == 0 || len(c) > ChunkMax {
			t.Fatalf("chunk %d/%d has length %d", i, len(chunks), len(c))
		}
		if i < len(chunks)-1 && len(c) < ChunkMin {
			t.Fatalf("non-final chunk %d/%d has length %d < ChunkMin", i, len(chunks), len(c))
		}
	}
}

func TestChunkerParameters(t *testing.T) {
	if ChunkMin != 16384 || ChunkAvg != 65536 || ChunkMax != 262144 {
		t.Fatalf("chunk parameters changed: %d %d %d", ChunkMin, ChunkAvg, ChunkMax)
	}
	if maskS != 0xffffc00000000000 || maskL != 0xfffc000000000000 {
		t.Fatalf("masks changed: %#x %#x", maskS, maskL)
	}
}

func TestChunkerGearTable(t *testing.T) {
	// Pinned values: the table is part of the storage format.
	first := [4]uint64{0xe3b6fb1392f4fe8c, 0xe5310827794f7004, 0xbc223d369ef148dd, 0x67ae273b3b0a6076}
	last := [4]uint64{0x48538cdbee4a1e32, 0x41401e67762551fe, 0x1c780b825b13ca1d, 0xc480dca7da73cefd}
	if [4]uint64(gear[:4]) != first {
		t.Errorf("gear[:4] = %#x, want %#x", gear[:4], first)
	}
	if [4]uint64(gear[252:]) != last {
		t.Errorf("gear[252:] = %#x, want %#x", gear[252:], last)
	}
	// The whole table is the SplitMix64 stream seeded with "dv-gear1".
	s := splitMix64{0x64762d6765617231}
	for i := range gear {
		if want := s.next(); gear[i] != want {
			t.Errorf("gear[%d] = %#016x, want %#016x", i, gear[i], want)
		}
	}
}

// wantVectorLens are the chunk lengths of randBytes(testSeed, 4<<20). They
// pin the chunking of format version 1: if this test fails, the format has
// changed.
var wantVectorLens = []int{
	72177, 103432, 90815, 77647, 42374, 29943, 83919, 93956,
	75917, 54937, 77183, 55756, 67185, 72581, 70689, 91865,
	87564, 67276, 22046, 28013, 74585, 71153, 73653, 86352,
	71523, 69739, 68092, 72025, 71815, 76773, 78503, 96190,
	97395, 18801, 72915, 88643, 74399, 76050, 65904, 69623,
	71642, 74457, 27684, 24624, 70183, 19733, 50754, 67550,
	78549, 71414, 54093, 72334, 65841, 75701, 83781, 67225,
	63978, 75735, 30736, 72026, 38482, 92927, 5447,
}

func TestChunkerVectors(t *testing.T) {
	data := randBytes(testSeed, 4<<20)
	if got := sha256.Sum256(data); fmt.Sprintf("%x", got[:8]) != "576edbf3022aca8d" {
		t.Fatalf("test input changed: sha256 prefix %x", got[:8])
	}
	chunks := chunkBytes(t, data)
	checkChunks(t, data, chunks)
	got := lengths(chunks)
	if fmt.Sprint(got) != fmt.Sprint(wantVectorLens) {
		t.Fatalf("chunk lengths changed:\n got  %v\n want %v", got, wantVectorLens)
	}
}

func TestChunkerLowEntropy(t *testing.T) {
	// A constant input never matches a mask, so it is cut at ChunkMax.
	for _, b := range []byte{0, 'a', 0xff} {
		data := bytes.Repeat([]byte{b}, 2*ChunkMax+1000)
		got := lengths(chunkBytes(t, data))
		if want := []int{ChunkMax, ChunkMax, 1000}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("byte %#x: lengths %v, want %v", b, got, want)
		}
	}
}

func TestChunkerEmpty(t *testing.T) {
	c := NewChunker(bytes.NewReader(nil))
	for i := 0; i < 3; i++ {
		b, err := c.Next()
		if b != nil || err != io.EOF {
			t.Fatalf("call %d: Next() = %v, %v; want nil, io.EOF", i, b, err)
		}
	}
	if n := cutPoint(nil); n != 0 {
		t.Fatalf("cutPoint(nil) = %d", n)
	}
}

func TestChunkerSmall(t *testing.T) {
	for _, n := range []int{1, 2, 63, 64, 65, 1000, ChunkMin - 1, ChunkMin} {
		data := randBytes(uint64(n), n)
		chunks := chunkBytes(t, data)
		if len(chunks) != 1 || !bytes.Equal(chunks[0], data) {
			t.Errorf("input of %d bytes: got %d chunks %v, want one", n, len(chunks), lengths(chunks))
		}
		c := NewChunker(bytes.NewReader(data))
		c.Next()
		for i := 0; i < 2; i++ {
			if b, err := c.Next(); b != nil || err != io.EOF {
				t.Fatalf("after the last chunk: Next() = %d bytes, %v", len(b), err)
			}
		}
	}
}

func TestChunkerProperties(t *testing.T) {
	sizes := []int{ChunkMin + 1, ChunkAvg, ChunkMax - 1, ChunkMax, ChunkMax + 1,
		chunkerBufSize - 1, chunkerBufSize, chunkerBufSize + 1, 3*chunkerBufSize + 12345}
	for i, n := range sizes {
		data := randBytes(uint64(1000+i), n)
		chunks := chunkBytes(t, data)
		checkChunks(t, data, chunks)
		if got, want := lengths(chunks), splitWith(data, cutPoint); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("size %d: streaming lengths %v, in-memory %v", n, got, want)
		}
	}
}

func TestChunkerReference(t *testing.T) {
	data := randBytes(42, 2<<20)
	// Add a stretch of low-entropy data and text to exercise ChunkMax cuts.
	data = append(data, make([]byte, 300<<10)...)
	data = append(data, bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 10000)...)
	data = append(data, randBytes(43, 1<<20)...)
	got := splitWith(data, cutPoint)
	want := splitWith(data, refCutPoint)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("cutPoint disagrees with the reference rule:\n got  %v\n want %v", got, want)
	}
}

// randSizeReader returns reads of pseudo-random sizes in [0, max], including
// some empty (0, nil) reads.
type randSizeReader struct {
	r   io.Reader
	rng splitMix64
	max int
}

func (r *randSizeReader) Read(p []byte) (int, error) {
	n := int(r.rng.next() % uint64(r.max+1))
	return r.r.Read(p[:min(n, len(p))])
}

func TestChunkerReadSizes(t *testing.T) {
	data := randBytes(7, 3<<19) // 1.5 MiB
	want := lengths(chunkBytes(t, data))
	if len(want) < 10 {
		t.Fatalf("only %d chunks", len(want))
	}
	readers := map[string]func() io.Reader{
		"OneByte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"Half":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"DataErr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
		"Random":  func() io.Reader { return &randSizeReader{r: bytes.NewReader(data), rng: splitMix64{1}, max: 100000} },
		"Multi": func() io.Reader {
			return io.MultiReader(bytes.NewReader(data[:12345]), bytes.NewReader(data[12345:700000]), bytes.NewReader(data[700000:]))
		},
	}
	for name, mk := range readers {
		chunks := chunkStream(t, NewChunker(mk()))
		checkChunks(t, data, chunks)
		if got := lengths(chunks); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: lengths %v, want %v", name, got, want)
		}
	}
}

func chunkSet(chunks [][]byte) map[[32]byte]bool {
	m := make(map[[32]byte]bool, len(chunks))
	for _, c := range chunks {
		m[sha256.Sum256(c)] = true
	}
	return m
}

func TestChunkerInsertion(t *testing.T) {
	data := randBytes(99, 8<<20)
	orig := chunkBytes(t, data)
	mid := len(data) / 2
	edits := map[string][]byte{
		"insert": append(append(append([]byte(nil), data[:mid]...), []byte("0123456789")...), data[mid:]...),
		"delete": append(append([]byte(nil), data[:mid]...), data[mid+10:]...),
		"modify": append(append(append([]byte(nil), data[:mid]...), []byte("0123456789")...), data[mid+10:]...),
	}
	for name, edited := range edits {
		chunks := chunkBytes(t, edited)
		checkChunks(t, edited, chunks)
		have := chunkSet(chunks)
		shared := 0
		for _, c := range orig {
			if have[sha256.Sum256(c)] {
				shared++
			}
		}
		frac := float64(shared) / float64(len(orig))
		t.Logf("%s: %d of %d chunks shared (%.1f%%)", name, shared, len(orig), 100*frac)
		if frac < 0.9 || len(orig)-shared > 3 {
			t.Errorf("%s: only %d of %d chunks shared", name, shared, len(orig))
		}
	}
}

func TestChunkerAverage(t *testing.T) {
	data := randBytes(2024, 32<<20)
	l := splitWith(data, cutPoint)
	lo, hi := ChunkMax, 0
	for _, n := range l[:len(l)-1] {
		lo, hi = min(lo, n), max(hi, n)
	}
	avg := float64(len(data)) / float64(len(l))
	t.Logf("%d chunks, mean %.1f KiB, min %d, max %d", len(l), avg/1024, lo, hi)
	if avg < 40<<10 || avg > 100<<10 {
		t.Errorf("mean chunk size %.0f outside 40..100 KiB", avg)
	}
}

func TestChunkerReset(t *testing.T) {
	a, b := randBytes(1, 1<<20), randBytes(2, 1<<20)
	want := lengths(chunkBytes(t, b))
	c := NewChunker(bytes.NewReader(a))
	buf := &c.buf[0]
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	c.Reset(bytes.NewReader(b))
	chunks := chunkStream(t, c)
	checkChunks(t, b, chunks)
	if got := lengths(chunks); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after Reset: lengths %v, want %v", got, want)
	}
	if &c.buf[0] != buf {
		t.Errorf("Reset reallocated the buffer")
	}
	// Reset also clears EOF and error state.
	c.Reset(iotest.ErrReader(errors.New("boom")))
	c.Next()
	c.Reset(bytes.NewReader(b))
	if got := lengths(chunkStream(t, c)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after error and Reset: lengths %v, want %v", got, want)
	}
	// A zero Chunker becomes usable with Reset.
	var z Chunker
	z.Reset(bytes.NewReader(b))
	if got := lengths(chunkStream(t, &z)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("zero Chunker: lengths %v, want %v", got, want)
	}
}

func TestChunkerReadError(t *testing.T) {
	boom := errors.New("boom")
	data := randBytes(3, 3*chunkerBufSize)
	r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom))
	c := NewChunker(r)
	total := 0
	var err error
	for {
		var b []byte
		b, err = c.Next()
		if err != nil {
			break
		}
		if !bytes.Equal(b, data[total:total+len(b)]) {
			t.Fatalf("chunk at %d differs from input", total)
		}
		total += len(b)
	}
	if err != boom {
		t.Fatalf("Next error = %v, want %v", err, boom)
	}
	if b, err := c.Next(); b != nil || err != boom {
		t.Fatalf("error is not sticky: %v, %v", b, err)
	}
	// A reader that never makes progress.
	c.Reset(&randSizeReader{r: bytes.NewReader(data), max: 0})
	if _, err := c.Next(); err != io.ErrNoProgress {
		t.Fatalf("Next error = %v, want io.ErrNoProgress", err)
	}
}

func FuzzChunker(f *testing.F) {
	f.Add([]byte{}, uint64(0), uint32(0), uint16(0))
	f.Add([]byte("hello, world"), uint64(1), uint32(0), uint16(1))
	f.Add([]byte{}, uint64(2), uint32(ChunkMin+1), uint16(0))
	f.Add([]byte("x"), uint64(3), uint32(600<<10), uint16(4096))
	f.Add(make([]byte, 1000), uint64(4), uint32(2<<20), uint16(333))
	f.Add(bytes.Repeat([]byte("abc"), 100000), uint64(5), uint32(1<<20), uint16(65535))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, extra uint32, readSize uint16) {
		// The input is data followed by up to 4 MiB of pseudo-random bytes,
		// so that short fuzz inputs still produce several chunks.
		in := append(bytes.Clone(data), randBytes(seed, int(extra%(4<<20)))...)
		var r io.Reader = bytes.NewReader(in)
		if readSize > 0 {
			r = &randSizeReader{r: r, rng: splitMix64{seed}, max: int(readSize)}
		}
		chunks := chunkStream(t, NewChunker(r))
		checkChunks(t, in, chunks)
		if got, want := lengths(chunks), splitWith(in, cutPoint); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("streaming lengths %v, in-memory %v", got, want)
		}
	})
}

func BenchmarkChunker(b *testing.B) {
	data := randBytes(12345, 64<<20)
	c := NewChunker(nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	chunks := 0
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			_, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			chunks++
		}
	}
	b.ReportMetric(float64(len(data))*float64(b.N)/float64(chunks)/1024, "KiB/chunk")
}

// TestGearScan checks the unrolled gearScan against the byte-by-byte loop
// it stands for, with masks of a few bits so that hits fall at every
// position of its groups of four and sixteen, on every length up to 80.
func TestGearScan(t *testing.T) {
	data := randBytes(testSeed+3, 4096)
	simple := func(h uint64, p []byte, mask uint64) (int, uint64, bool) {
		for i, b := range p {
			if h = h<<1 + gear[b]; h&mask == 0 {
				return i + 1, h, true
			}
		}
		return len(p), h, false
	}
	for _, mask := range []uint64{0x8000000000000000, 0xc000000000000000, 0xf000000000000000, 0xff00000000000000, maskL} {
		for off := 0; off < 200; off++ {
			for n := 0; n <= 80; n++ {
				p := data[off*7 : off*7+n]
				h := uint64(off) * 0x9e3779b97f4a7c15
				k, hh, hit := gearScan(h, p, mask)
				wk, wh, whit := simple(h, p, mask)
				if k != wk || hh != wh || hit != whit {
					t.Fatalf("mask %#x, offset %d, length %d: gearScan = %d, %#x, %v; want %d, %#x, %v", mask, off*7, n, k, hh, hit, wk, wh, whit)
				}
			}
		}
	}
}
