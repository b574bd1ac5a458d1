package drift

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultMemoryBudget is how much memory the numeric columns of both
// tables may take while statistics stay exact (Options.MemoryBudget).
const DefaultMemoryBudget = 256 << 20

// blockLen is how many values one storage block holds.
const blockLen = 1 << 16

// maxTracked is how many distinct values a numeric column counts before
// it stops (k > 5 and "more than 20 distinct" need no more).
const maxTracked = 64

// Column types.
const (
	Numeric     = "numeric"
	Categorical = "categorical"
)

// column accumulates one column of one table.
type column struct {
	name    string
	numeric bool
	rows    int64 // values, missing included
	missing int64

	blocks [][]float64 // exact numeric values, while within the budget
	sorted []float64   // the values, sorted (after finish)
	sketch *Sketch     // past the budget
	sum    kahan       // for the mean and the standard deviation of a sketch
	sumsq  kahan

	distinct map[float64]int64 // numeric: counts of the first maxTracked values; nil past that
	cats     map[string]int64  // categorical: counts (after finish)
	catIndex map[string]int    // categorical while reading: value -> index in catCount
	catCount []int64
}

func newColumn(name string, numeric bool) *column {
	c := &column{name: name, numeric: numeric}
	if numeric {
		c.distinct = map[float64]int64{}
	} else {
		c.cats, c.catIndex = map[string]int64{}, map[string]int{}
	}
	return c
}

// budget is the memory the exact numeric values of all columns share.
// Each value is charged twice: itself and its place in the sorted copy.
// Columns of several goroutines may charge it at once; once it is over,
// each column turns itself into a sketch at its next block (and finish
// turns the rest), so no goroutine touches another's column.
type budget struct {
	mu      sync.Mutex
	limit   int64
	used    int64
	catUsed int64
	sketchK int
	over    atomic.Bool
	// sizeHint is the bytes of all the files to read (0: unknown): when
	// the reference's first rows show that their numbers cannot fit, the
	// check sketches from the start instead of filling the budget first.
	sizeHint int64
}

// expect takes the reference's first rows (rowBytes bytes for rows rows,
// numeric numeric columns) and starts sketching at once when the files'
// rows would exceed the budget.
func (b *budget) expect(rowBytes, rows int64, numeric int) {
	if b.sizeHint <= 0 || rows == 0 || rowBytes == 0 {
		return
	}
	est := b.sizeHint / max(rowBytes/rows, 1) * int64(numeric) * 16
	if est > b.limit {
		b.over.Store(true)
	}
}

func (b *budget) register(c *column) {
	if b.over.Load() && c.numeric {
		c.toSketch(b.sketchK)
	}
}

// charge accounts for n more bytes of values and reports whether the
// budget is exceeded.
func (b *budget) charge(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used += n
	if b.used > b.limit {
		b.over.Store(true)
	}
	return b.over.Load()
}

// chargeCategory accounts for a new category value.
func (b *budget) chargeCategory(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.catUsed += n
	return b.catUsed > b.limit
}

func (c *column) toSketch(k int) {
	if c.sketch != nil {
		return
	}
	c.sketch = NewSketch(k)
	for _, blk := range c.blocks {
		for _, x := range blk {
			c.sketch.Add(x)
		}
	}
	c.blocks = nil
}

// addFloat adds a numeric value.
func (c *column) addFloat(b *budget, x float64) {
	c.rows++
	if c.distinct != nil {
		if _, ok := c.distinct[x]; ok || len(c.distinct) < maxTracked {
			c.distinct[x]++
		} else {
			c.distinct = nil
		}
	}
	c.sum.add(x)
	c.sumsq.add(x * x)
	if c.sketch != nil {
		c.sketch.Add(x)
		return
	}
	if n := len(c.blocks); n == 0 || len(c.blocks[n-1]) == blockLen {
		if b.charge(2 * 8 * blockLen) {
			c.toSketch(b.sketchK)
			c.sketch.Add(x)
			return
		}
		c.blocks = append(c.blocks, make([]float64, 0, blockLen))
	}
	last := len(c.blocks) - 1
	c.blocks[last] = append(c.blocks[last], x)
}

// addCategory adds a categorical value; s may alias a reused buffer
// (it is copied when it is a new category).
func (c *column) addCategory(b *budget, s string) error {
	c.rows++
	if i, ok := c.catIndex[s]; ok {
		c.catCount[i]++
		return nil
	}
	s = strings.Clone(s)
	if b.chargeCategory(int64(len(s)) + 64) {
		return fmt.Errorf("column %q: too many distinct values (%d) for the memory budget", c.name, len(c.catIndex))
	}
	c.catIndex[s] = len(c.catCount)
	c.catCount = append(c.catCount, 1)
	return nil
}

func (c *column) addMissing() {
	c.rows++
	c.missing++
}

// values is the number of non-missing values.
func (c *column) values() int64 { return c.rows - c.missing }

// finish sorts the exact values (and counts the categories).
func (c *column) finish() {
	if !c.numeric {
		for k, i := range c.catIndex {
			c.cats[k] = c.catCount[i]
		}
		return
	}
	if c.sketch != nil || c.sorted != nil {
		return
	}
	n := 0
	for _, b := range c.blocks {
		n += len(b)
	}
	all := make([]float64, 0, n)
	for i, b := range c.blocks {
		all = append(all, b...)
		c.blocks[i] = nil
	}
	c.blocks = nil
	slices.Sort(all)
	c.sorted = all
}

// counts returns the column's value counts as categories (a numeric
// column with few distinct values is tested as a categorical one).
func (c *column) counts() map[string]int64 {
	if !c.numeric {
		return c.cats
	}
	out := make(map[string]int64, len(c.distinct))
	for v, n := range c.distinct {
		out[strconv.FormatFloat(v, 'g', -1, 64)] = n
	}
	return out
}

// distinctCount is the number of distinct values, or maxTracked+1 when
// there are more than maxTracked.
func (c *column) distinctCount() int {
	if !c.numeric {
		return len(c.catIndex)
	}
	if c.distinct == nil {
		return maxTracked + 1
	}
	return len(c.distinct)
}

// std is the population standard deviation: exact from the sorted values,
// from the running sums past the budget.
func (c *column) std() float64 {
	if c.sorted != nil {
		return PopulationStd(c.sorted)
	}
	n := float64(c.values())
	mean := c.sum.sum() / n
	return math.Sqrt(math.Max(c.sumsq.sum()/n-mean*mean, 0))
}

// weighted returns the values as weighted items (a sketch's, or each
// exact value with weight 1).
func (c *column) weighted() []Weighted {
	if c.sketch != nil {
		return c.sketch.Items()
	}
	out := make([]Weighted, len(c.sorted))
	for i, x := range c.sorted {
		out[i] = Weighted{x, 1}
	}
	return out
}

func (c *column) errorBound() float64 {
	if c.sketch == nil {
		return 0
	}
	return c.sketch.ErrorBound()
}

func (c *column) bounds() (lo, hi float64) {
	if c.sketch != nil {
		return c.sketch.min, c.sketch.max
	}
	return c.sorted[0], c.sorted[len(c.sorted)-1]
}

// merge adds the values of o (the same column, read by another
// goroutine) to c.
func (c *column) merge(o *column, k int) {
	c.rows += o.rows
	c.missing += o.missing
	c.sum.add(o.sum.s)
	c.sum.add(o.sum.c)
	c.sumsq.add(o.sumsq.s)
	c.sumsq.add(o.sumsq.c)
	if !c.numeric {
		for v, i := range o.catIndex {
			if j, ok := c.catIndex[v]; ok {
				c.catCount[j] += o.catCount[i]
			} else {
				c.catIndex[v] = len(c.catCount)
				c.catCount = append(c.catCount, o.catCount[i])
			}
		}
		return
	}
	if c.distinct != nil && o.distinct != nil {
		for v, n := range o.distinct {
			c.distinct[v] += n
		}
		if len(c.distinct) > maxTracked {
			c.distinct = nil
		}
	} else {
		c.distinct = nil
	}
	switch {
	case o.sketch != nil:
		c.toSketch(k)
		c.sketch.Merge(o.sketch)
	case c.sketch != nil:
		for _, blk := range o.blocks {
			for _, x := range blk {
				c.sketch.Add(x)
			}
		}
	default:
		c.blocks = append(c.blocks, o.blocks...)
	}
	o.blocks = nil
}
