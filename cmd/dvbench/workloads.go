package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sync/errgroup"
)

// Workload sizes at -scale 1 (PERF.md).
const (
	w1Size     = 1 << 30 // W1: one file of random bytes
	w2Files    = 100_000 // W2: files of w2FileSize random bytes ...
	w2Dirs     = 100     // ... in this many folders
	w2FileSize = 10 << 10
	w4Size     = 1 << 30 // W4: CSV of about rowLen-byte rows
	rowLen     = 100
)

// workloads are the generated data sets, each inside its own project
// directory so that dv, git and git-lfs can run there.
type workloads struct {
	w1Dir, w1Name string // W1: w1Dir/w1Name
	w1Bytes       int64

	w2Dir, w2Name string // W2: the folder w2Dir/w2Name
	w2Files       int
	w2Bytes       int64
	w3GitDir      string // P3: a git repository whose index holds W2's files

	w4V1, w4V2         string // W4: the two versions of the CSV
	w4Bytes1, w4Bytes2 int64
	w4Rows, w4Edited   int
	w4Appended         int
}

func scaled(n int64, scale float64, least int64) int64 {
	return max(int64(float64(n)*scale), least)
}

// genW1 writes one file of random bytes.
func genW1(root string, scale float64, w *workloads) error {
	w.w1Dir, w.w1Name = filepath.Join(root, "w1"), "big.bin"
	w.w1Bytes = scaled(w1Size, scale, 1<<20)
	if err := os.MkdirAll(w.w1Dir, 0o755); err != nil {
		return err
	}
	return writeRandom(filepath.Join(w.w1Dir, w.w1Name), w.w1Bytes, 1)
}

func writeRandom(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var s [32]byte
	copy(s[:], "dvbench-w1-"+strconv.FormatUint(seed, 10))
	if _, err := io.CopyN(f, rand.NewChaCha8(s), size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// genW2 writes w2Files distinct files of random bytes in w2Dirs folders.
func genW2(ctx context.Context, root string, scale float64, w *workloads) error {
	w.w2Dir, w.w2Name = filepath.Join(root, "w2"), "data"
	w.w2Files = int(scaled(w2Files, scale, w2Dirs))
	w.w2Bytes = int64(w.w2Files) * w2FileSize
	data := filepath.Join(w.w2Dir, w.w2Name)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for d := range w2Dirs {
		g.Go(func() error {
			dir := filepath.Join(data, fmt.Sprintf("d%03d", d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			var seed [32]byte
			copy(seed[:], fmt.Sprintf("dvbench-w2-%d", d))
			rng := rand.NewChaCha8(seed)
			buf := make([]byte, w2FileSize)
			for i := d; i < w.w2Files; i += w2Dirs {
				if err := ctx.Err(); err != nil {
					return err
				}
				_, _ = rng.Read(buf)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%06d.bin", i)), buf, 0o644); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// genW4 writes version 1 of a CSV of about rowLen-byte rows and version 2:
// 1 % of the rows edited in 10 contiguous runs, and 1 % more rows appended.
// Both are written in one pass.
func genW4(root string, scale float64, w *workloads) error {
	dir := filepath.Join(root, "w4")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w.w4V1, w.w4V2 = filepath.Join(dir, "v1.csv"), filepath.Join(dir, "v2.csv")
	rows := int(scaled(w4Size, scale, 1<<20) / rowLen)
	runLen := max(rows/1000, 1) // 10 runs of 0.1 % each
	edited := func(i int) bool {
		for k := range 10 {
			start := (2*k+1)*rows/20 - runLen/2
			if i >= start && i < start+runLen {
				return true
			}
		}
		return false
	}
	f1, err := os.Create(w.w4V1)
	if err != nil {
		return err
	}
	defer f1.Close()
	f2, err := os.Create(w.w4V2)
	if err != nil {
		return err
	}
	defer f2.Close()
	b1, b2 := bufio.NewWriterSize(f1, 1<<20), bufio.NewWriterSize(f2, 1<<20)
	base := rand.New(rand.NewPCG(4, 1))  // the rows of version 1
	edits := rand.New(rand.NewPCG(4, 2)) // the edited values
	var line []byte
	header := []byte("id,time,sensor,temperature,humidity,label,comment\n")
	_, _ = b1.Write(header)
	_, _ = b2.Write(header)
	n1 := int64(len(header))
	for i := range rows {
		line = csvRow(line[:0], i, base)
		n1 += int64(len(line))
		_, _ = b1.Write(line)
		if edited(i) {
			line = csvRow(line[:0], i, edits)
			w.w4Edited++
		}
		_, _ = b2.Write(line)
	}
	appended := max(rows/100, 1)
	for i := rows; i < rows+appended; i++ {
		line = csvRow(line[:0], i, base)
		_, _ = b2.Write(line)
	}
	w.w4Rows, w.w4Appended = rows, appended
	if err := b1.Flush(); err != nil {
		return err
	}
	if err := b2.Flush(); err != nil {
		return err
	}
	fi, err := f2.Stat()
	if err != nil {
		return err
	}
	w.w4Bytes1, w.w4Bytes2 = n1, fi.Size()
	return nil
}

var (
	labels = []string{"ok", "warn", "fault", "calibrating", "offline", "ok", "ok", "maintenance"}
	words  = []string{"north", "field", "pump", "valve", "reading", "stable", "drift", "sensor",
		"east", "tank", "level", "nominal", "check", "west", "grid", "flow", "low", "high",
		"south", "unit", "after", "before", "rain", "dry", "storm", "manual", "auto", "reset"}
)

// csvRow appends row i of a sensor log (about rowLen bytes) drawn from rng.
func csvRow(b []byte, i int, rng *rand.Rand) []byte {
	const t0 = 1_700_000_000
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, t0+int64(i)*7, 10)
	b = append(b, ",sensor_"...)
	b = strconv.AppendInt(b, int64(rng.IntN(500)), 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, 15+10*rng.NormFloat64(), 'f', 3, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, 100*rng.Float64(), 'f', 2, 64)
	b = append(b, ',')
	b = append(b, labels[rng.IntN(len(labels))]...)
	b = append(b, ',')
	for n := 0; len(b) < rowLen-8 || n < 2; n++ {
		if n > 0 {
			b = append(b, ' ')
		}
		b = append(b, words[rng.IntN(len(words))]...)
	}
	return append(b, '\n')
}

// warm reads every regular file below path so that runs start with a warm
// page cache.
func warm(path string) error {
	buf := make([]byte, 1<<20)
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(io.Discard, f, buf)
		f.Close()
		return err
	})
}
