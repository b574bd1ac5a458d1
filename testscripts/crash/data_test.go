package crash

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// gen makes deterministic test data from a seed.
type gen struct {
	t   testing.TB
	r   *rand.Rand
	src *rand.ChaCha8
}

func newGen(t testing.TB, seed uint64, stream string) *gen {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	copy(key[8:], stream)
	src := rand.NewChaCha8(key)
	return &gen{t: t, r: rand.New(src), src: src}
}

// between returns a random int in [lo, hi].
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// random returns n incompressible bytes.
func (g *gen) random(n int) []byte {
	b := make([]byte, n)
	_, _ = g.src.Read(b)
	return b
}

// csv returns about n bytes of CSV rows: text that compresses well.
func (g *gen) csv(n int) []byte {
	b := make([]byte, 0, n+64)
	b = append(b, "id,lat,lon,soil_ph,yield,label\n"...)
	for i := 0; len(b) < n; i++ {
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ',')
		b = strconv.AppendFloat(b, 40+g.r.Float64(), 'f', 5, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, -3+g.r.Float64(), 'f', 5, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, 5+3*g.r.Float64(), 'f', 2, 64)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(g.r.IntN(12000)), 10)
		b = append(b, ',')
		b = append(b, []string{"good", "fair", "poor"}[g.r.IntN(3)]...)
		b = append(b, '\n')
	}
	return b[:n]
}

// semi returns n bytes that compress to about half: random runs and
// repeats of them.
func (g *gen) semi(n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		run := g.random(g.between(512, 8192))
		b = append(b, run...)
		b = append(b, run...)
	}
	return b[:n]
}

func (g *gen) write(dir, rel string, data []byte, perm os.FileMode) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		g.t.Fatal(err)
	}
	// WriteFile keeps the mode of an existing file.
	if err := os.Chmod(p, perm); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gen) remove(dir, rel string) {
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
		g.t.Fatal(err)
	}
}

// files lists the regular files below dir/sub, sorted, as paths relative
// to dir.
func (g *gen) files(dir, sub string) []string {
	m, err := scanTree(filepath.Join(dir, sub))
	if err != nil {
		g.t.Fatal(err)
	}
	var out []string
	for rel, n := range m {
		if n.kind == "file" {
			out = append(out, sub+"/"+rel)
		}
	}
	sort.Strings(out)
	return out
}

// pick returns k distinct elements of s, in a random order.
func (g *gen) pick(s []string, k int) []string {
	c := append([]string(nil), s...)
	g.r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c[:min(k, len(c))]
}

// makeV1 writes the first version of the data set into dir: about 280
// files, 50 MiB, of which about 38 MiB is stored after compression and
// deduplication (two packs). It has compressible CSV, random binaries,
// multi-chunk files of 1.5 to 5 MiB, duplicates, an empty file, an empty
// directory, an executable and a relative symlink.
func makeV1(g *gen, dir string) {
	for i := range 100 {
		g.write(dir, fmt.Sprintf("csv/part-%03d.csv", i), g.csv(g.between(1<<10, 200<<10)), 0o644)
	}
	for i := range 150 {
		g.write(dir, fmt.Sprintf("img/%02d/%04d.bin", i%6, i), g.random(g.between(0, 256<<10)), 0o644)
	}
	bigs := []int{1536 << 10, 2 << 20, 3 << 20, 3584 << 10, 4 << 20, 5 << 20}
	for i, n := range bigs {
		data := g.random(n)
		if i%2 == 1 {
			data = g.semi(n)
		}
		g.write(dir, fmt.Sprintf("big/%02d.bin", i), data, 0o644)
	}
	srcs := append(g.files(dir, "csv"), g.files(dir, "img")...)
	for i, src := range g.pick(srcs, 20) {
		b, err := os.ReadFile(filepath.Join(dir, src))
		if err != nil {
			g.t.Fatal(err)
		}
		g.write(dir, fmt.Sprintf("dup/%02d-%s", i, filepath.Base(src)), b, 0o644)
	}
	g.write(dir, "bin/run.sh", []byte("#!/bin/sh\necho training\n"), 0o755)
	g.write(dir, "empty.txt", nil, 0o644)
	if err := os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Symlink("csv/part-000.csv", filepath.Join(dir, "latest.csv")); err != nil {
		g.t.Fatal(err)
	}
}

// makeV2 changes a v1 data set in place: rows appended to some CSV files,
// binaries deleted and added, a few bytes changed inside a multi-chunk
// file, a new multi-chunk file. About 5 MiB of new data.
func makeV2(g *gen, dir string) {
	for _, f := range g.pick(g.files(dir, "csv"), 10) {
		old, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			g.t.Fatal(err)
		}
		g.write(dir, f, append(old, g.csv(g.between(5<<10, 50<<10))[31:]...), 0o644)
	}
	for _, f := range g.pick(g.files(dir, "img"), 5) {
		g.remove(dir, f)
	}
	for i := range 10 {
		g.write(dir, fmt.Sprintf("img/new/%04d.bin", i), g.random(g.between(100<<10, 256<<10)), 0o644)
	}
	p := filepath.Join(dir, "big/02.bin")
	b, err := os.ReadFile(p)
	if err != nil {
		g.t.Fatal(err)
	}
	copy(b[len(b)/2:], g.random(64<<10))
	g.write(dir, "big/02.bin", b, 0o644)
	g.write(dir, "big/new-2m.bin", g.random(2<<20), 0o644)
}

// makeScratch writes data that is added and then dropped without a
// commit: about 9 MiB that gc may delete, whole packs of it.
func makeScratch(g *gen, dir string) {
	for i := range 4 {
		g.write(dir, fmt.Sprintf("blob-%d.bin", i), g.random(2<<20), 0o644)
	}
	for i := range 20 {
		g.write(dir, fmt.Sprintf("small/%02d.bin", i), g.random(g.between(4<<10, 64<<10)), 0o644)
	}
}

// makeV3a adds a directory of 24 random files (about 12 MiB) and rewrites
// five CSV files.
func makeV3a(g *gen, dir string) {
	for i := range 24 {
		g.write(dir, fmt.Sprintf("extra/%02d.bin", i), g.random(g.between(256<<10, 768<<10)), 0o644)
	}
	for _, f := range g.pick(g.files(dir, "csv"), 5) {
		g.write(dir, f, g.csv(g.between(10<<10, 100<<10)), 0o644)
	}
}

// makeV3b deletes every other file of extra/ (so that the packs v3a wrote
// hold live and dead objects) and rewrites two CSV files.
func makeV3b(g *gen, dir string) {
	for i, f := range g.files(dir, "extra") {
		if i%2 == 0 {
			g.remove(dir, f)
		}
	}
	for _, f := range g.pick(g.files(dir, "csv"), 2) {
		g.write(dir, f, g.csv(g.between(10<<10, 100<<10)), 0o644)
	}
}

// makeSmall writes the data set of the remote and run scenarios into dir:
// about 150 files, 11 MiB (about 9 MiB stored), of the same kinds as v1:
// CSV, random binaries, multi-chunk files, duplicates, an empty file and
// directory, an executable and a symlink.
func makeSmall(g *gen, dir string) {
	for i := range 40 {
		g.write(dir, fmt.Sprintf("csv/part-%03d.csv", i), g.csv(g.between(1<<10, 100<<10)), 0o644)
	}
	for i := range 90 {
		g.write(dir, fmt.Sprintf("img/%02d/%04d.bin", i%4, i), g.random(g.between(0, 96<<10)), 0o644)
	}
	for i, n := range []int{1536 << 10, 2 << 20, 3 << 20} {
		data := g.random(n)
		if i == 1 {
			data = g.semi(n)
		}
		g.write(dir, fmt.Sprintf("big/%02d.bin", i), data, 0o644)
	}
	for i, src := range g.pick(g.files(dir, "img"), 8) {
		b, err := os.ReadFile(filepath.Join(dir, src))
		if err != nil {
			g.t.Fatal(err)
		}
		g.write(dir, fmt.Sprintf("dup/%02d-%s", i, filepath.Base(src)), b, 0o644)
	}
	g.write(dir, "bin/run.sh", []byte("#!/bin/sh\necho training\n"), 0o755)
	g.write(dir, "empty.txt", nil, 0o644)
	if err := os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.Symlink("csv/part-000.csv", filepath.Join(dir, "latest.csv")); err != nil {
		g.t.Fatal(err)
	}
}

// makeFeat writes a second, smaller tracked directory: about 3 MiB in 24
// files.
func makeFeat(g *gen, dir string) {
	for i := range 24 {
		if i%3 == 0 {
			g.write(dir, fmt.Sprintf("f-%02d.csv", i), g.csv(g.between(16<<10, 128<<10)), 0o644)
			continue
		}
		g.write(dir, fmt.Sprintf("f-%02d.bin", i), g.random(g.between(32<<10, 192<<10)), 0o644)
	}
}

// makeRaw writes the input of the run and train scenarios: n random
// parts of 512 KiB.
func makeRaw(g *gen, dir string, n int) {
	for i := range n {
		g.write(dir, fmt.Sprintf("part-%02d.bin", i), g.random(512<<10), 0o644)
	}
}

// makeSmallDir writes a small directory for the concurrency tests: 12
// files, about 600 KiB.
func makeSmallDir(g *gen, dir string) {
	for i := range 12 {
		g.write(dir, fmt.Sprintf("f-%02d.bin", i), g.random(g.between(8<<10, 96<<10)), 0o644)
	}
}

// changeSmallDir makes the next version of a makeSmallDir directory: three
// files rewritten, one deleted, one added. The rewritten and deleted files'
// data becomes garbage, in packs that still hold live data.
func changeSmallDir(g *gen, dir string, round int) {
	files := g.files(dir, ".")
	for _, f := range g.pick(files, 4)[:3] {
		g.write(dir, f, g.random(g.between(8<<10, 96<<10)), 0o644)
	}
	if len(files) > 6 {
		g.remove(dir, g.pick(files, 1)[0])
	}
	g.write(dir, fmt.Sprintf("r%02d.bin", round), g.random(g.between(8<<10, 96<<10)), 0o644)
}
