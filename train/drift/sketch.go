package drift

import (
	"math"
	"slices"
)

// SketchK is the capacity of each level of a Sketch.
const SketchK = 1 << 15

// Sketch is a mergeable quantile sketch of a stream of numbers: a stack
// of compactors in the manner of KLL (Karnin, Lang and Liberty 2016),
// made deterministic. Level h holds items of weight 2ʰ; when a level
// reaches K items it is sorted and every other item (starting at the
// first and second position in turn) moves to level h+1.
//
// Error bound: one compaction at level h moves the weighted count of
// items ≤ x by at most 2ʰ, and level h is compacted at most n/(K·2ʰ)
// times, so every rank the sketch reports is within H·n/K of the true
// rank, H being the number of levels that were compacted
// (ErrorBound = H/K, as a share of n). With K = 32768 that is 0.05 % of
// the rows at 2³⁰ values (H = 15), for 8·K·(H+1) bytes (4 MiB).
type Sketch struct {
	K        int
	levels   [][]float64
	parity   []bool
	n        int64
	min, max float64
}

// NewSketch returns an empty sketch with levels of k items.
func NewSketch(k int) *Sketch {
	return &Sketch{K: k, min: math.Inf(1), max: math.Inf(-1)}
}

// Add adds one value.
func (s *Sketch) Add(x float64) {
	if len(s.levels) == 0 {
		s.grow()
	}
	s.levels[0] = append(s.levels[0], x)
	s.n++
	s.min, s.max = math.Min(s.min, x), math.Max(s.max, x)
	if len(s.levels[0]) >= s.K {
		s.compact(0)
	}
}

func (s *Sketch) grow() {
	var l []float64
	if len(s.levels) == 0 {
		l = make([]float64, 0, s.K) // level 0 fills up; the others grow as needed
	}
	s.levels = append(s.levels, l)
	s.parity = append(s.parity, false)
}

func (s *Sketch) compact(h int) {
	for h < len(s.levels) && len(s.levels[h]) >= s.K {
		if h+1 == len(s.levels) {
			s.grow()
		}
		buf := s.levels[h]
		slices.Sort(buf)
		start := 0
		if s.parity[h] {
			start = 1
		}
		s.parity[h] = !s.parity[h]
		keep := len(buf) % 2 // an odd item out stays at this level
		end := len(buf) - keep
		for i := start; i < end; i += 2 {
			s.levels[h+1] = append(s.levels[h+1], buf[i])
		}
		rest := buf[end:]
		s.levels[h] = append(buf[:0], rest...)
		h++
	}
}

// Merge adds the values summarized by o (same K) to s.
func (s *Sketch) Merge(o *Sketch) {
	for len(s.levels) < len(o.levels) {
		s.grow()
	}
	for h, l := range o.levels {
		s.levels[h] = append(s.levels[h], l...)
	}
	s.n += o.n
	s.min, s.max = math.Min(s.min, o.min), math.Max(s.max, o.max)
	for h := range s.levels {
		if len(s.levels[h]) >= s.K {
			s.compact(h)
		}
	}
}

// N is the number of values added.
func (s *Sketch) N() int64 { return s.n }

// ErrorBound is the bound on |rank error|/n of every rank the sketch
// reports: H/K for H compacted levels.
func (s *Sketch) ErrorBound() float64 {
	return float64(max(len(s.levels)-1, 0)) / float64(s.K)
}

// Items returns the sketch's values sorted, with their weights.
func (s *Sketch) Items() []Weighted {
	var out []Weighted
	for h, l := range s.levels {
		w := float64(int64(1) << h)
		for _, x := range l {
			out = append(out, Weighted{x, w})
		}
	}
	slices.SortFunc(out, func(a, b Weighted) int {
		switch {
		case a.X < b.X:
			return -1
		case a.X > b.X:
			return 1
		}
		return 0
	})
	return out
}

// Rank estimates #{values ≤ x}.
func (s *Sketch) Rank(x float64) float64 {
	r := 0.0
	for h, l := range s.levels {
		for _, v := range l {
			if v <= x {
				r += float64(int64(1) << h)
			}
		}
	}
	return r
}

// Weighted is a value standing for W values.
type Weighted struct{ X, W float64 }
