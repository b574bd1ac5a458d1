package main

import (
	"slices"
)

// boostParams are the trainer's knobs (dv train -p KEY=VALUE).
type boostParams struct {
	Rounds  int     `json:"rounds"`   // boosting rounds
	LR      float64 `json:"lr"`       // learning rate (shrinkage)
	Depth   int     `json:"depth"`    // depth of each tree (1: stumps)
	MinLeaf int     `json:"min_leaf"` // fewest training rows in a leaf
}

func defaultParams() boostParams { return boostParams{Rounds: 120, LR: 0.1, Depth: 3, MinLeaf: 20} }

// node is one node of a regression tree: a split (F >= 0: rows with
// x[F] <= T go to L, others to R) or a leaf (F < 0) with value V.
type node struct {
	F int     `json:"f"`
	T float64 `json:"t,omitempty"`
	L int     `json:"l,omitempty"`
	R int     `json:"r,omitempty"`
	V float64 `json:"v,omitempty"`
}

// booster is a gradient-boosted ensemble of regression trees fitted to the
// squared error: each tree fits the residuals of the ones before it.
type booster struct {
	Base  float64  `json:"base"`
	Trees [][]node `json:"trees"`
}

func (b *booster) predict(x []float64) float64 {
	y := b.Base
	for _, t := range b.Trees {
		i := 0
		for t[i].F >= 0 {
			if x[t[i].F] <= t[i].T {
				i = t[i].L
			} else {
				i = t[i].R
			}
		}
		y += t[i].V
	}
	return y
}

// binned is the training matrix cut into at most 64 quantile bins per
// feature, so that finding a split costs one pass over the rows.
type binned struct {
	cuts  [][]float64 // per feature: x <= cuts[b] means bin <= b
	codes [][]uint8   // per feature, per row
}

func binData(rows [][]float64, nf int) *binned {
	b := &binned{cuts: make([][]float64, nf), codes: make([][]uint8, nf)}
	for f := range nf {
		vals := make([]float64, len(rows))
		for i, x := range rows {
			vals[i] = x[f]
		}
		slices.Sort(vals)
		vals = slices.Compact(vals)
		var cuts []float64
		if len(vals) <= 64 {
			cuts = vals[:len(vals)-1]
		} else {
			for k := 1; k < 64; k++ {
				c := vals[k*len(vals)/64]
				if len(cuts) == 0 || c > cuts[len(cuts)-1] {
					cuts = append(cuts, c)
				}
			}
		}
		b.cuts[f] = cuts
		codes := make([]uint8, len(rows))
		for i, x := range rows {
			k, _ := slices.BinarySearch(cuts, x[f])
			codes[i] = uint8(k)
		}
		b.codes[f] = codes
	}
	return b
}

// fit trains a booster on rows (each of nf features) and targets y.
func fit(rows [][]float64, y []float64, nf int, p boostParams) *booster {
	bd := binData(rows, nf)
	mean := 0.0
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	m := &booster{Base: mean}
	pred := make([]float64, len(y))
	resid := make([]float64, len(y))
	for i := range pred {
		pred[i] = mean
	}
	idx := make([]int32, len(y))
	for range p.Rounds {
		for i := range y {
			resid[i] = y[i] - pred[i]
			idx[i] = int32(i)
		}
		g := grower{bd: bd, resid: resid, pred: pred, p: p}
		g.grow(idx, 0)
		m.Trees = append(m.Trees, g.nodes)
	}
	return m
}

type grower struct {
	bd    *binned
	resid []float64
	pred  []float64
	p     boostParams
	nodes []node
}

// grow adds the subtree for the rows idx and returns its node's index.
func (g *grower) grow(idx []int32, depth int) int {
	at := len(g.nodes)
	g.nodes = append(g.nodes, node{F: -1})
	sum := 0.0
	for _, i := range idx {
		sum += g.resid[i]
	}
	f, bin, ok := -1, 0, false
	if depth < g.p.Depth && len(idx) >= 2*g.p.MinLeaf {
		f, bin, ok = g.best(idx, sum)
	}
	if !ok {
		v := g.p.LR * sum / float64(len(idx))
		g.nodes[at].V = v
		for _, i := range idx {
			g.pred[i] += v
		}
		return at
	}
	codes := g.bd.codes[f]
	left := idx[:0:0]
	right := idx[:0:0]
	for _, i := range idx {
		if int(codes[i]) <= bin {
			left = append(left, i)
		} else {
			right = append(right, i)
		}
	}
	l := g.grow(left, depth+1)
	r := g.grow(right, depth+1)
	g.nodes[at] = node{F: f, T: g.bd.cuts[f][bin], L: l, R: r}
	return at
}

// best finds the split of idx that most reduces the squared error, with
// at least MinLeaf rows on each side.
func (g *grower) best(idx []int32, sum float64) (feature, bin int, ok bool) {
	n := float64(len(idx))
	bestGain := 1e-9
	var hs [65]float64
	var hc [65]int
	for f, codes := range g.bd.codes {
		nb := len(g.bd.cuts[f]) + 1
		clear(hs[:nb])
		clear(hc[:nb])
		for _, i := range idx {
			c := codes[i]
			hs[c] += g.resid[i]
			hc[c]++
		}
		ls, lc := 0.0, 0
		for b := 0; b < nb-1; b++ {
			ls += hs[b]
			lc += hc[b]
			rc := len(idx) - lc
			if lc < g.p.MinLeaf || rc < g.p.MinLeaf {
				continue
			}
			rs := sum - ls
			gain := ls*ls/float64(lc) + rs*rs/float64(rc) - sum*sum/n
			if gain > bestGain {
				bestGain, feature, bin, ok = gain, f, b, true
			}
		}
	}
	return feature, bin, ok
}
