package drift

import "math"

// The statistics over weighted sorted items, for columns past the memory
// budget (a sketch's items; each exact value has weight 1). They are the
// same formulas as KS2Samp, Wasserstein and BinShares with counts
// replaced by summed weights; with every weight 1 they give the same
// values. A sketch's rank error ε (Sketch.ErrorBound) bounds their error:
// |ΔD| ≤ ε₁ + ε₂, |ΔW₁| ≤ (ε₁ + ε₂)·(max − min), and each bin's share
// moves by at most 2ε.

// walkW calls f at each distinct pooled value x with the ECDFs of a and b
// just after x (weights summed, divided by the totals n1 and n2).
func walkW(a, b []Weighted, n1, n2 float64, f func(x, fa, fb float64)) {
	i, j := 0, 0
	ca, cb := 0.0, 0.0
	for i < len(a) || j < len(b) {
		var x float64
		if j >= len(b) || (i < len(a) && a[i].X <= b[j].X) {
			x = a[i].X
		} else {
			x = b[j].X
		}
		for i < len(a) && a[i].X <= x {
			ca += a[i].W
			i++
		}
		for j < len(b) && b[j].X <= x {
			cb += b[j].W
			j++
		}
		f(x, ca/n1, cb/n2)
	}
}

// ksStatW is the two-sample KS statistic D of weighted samples.
func ksStatW(a, b []Weighted, n1, n2 float64) float64 {
	maxS, minS := math.Inf(-1), math.Inf(1)
	walkW(a, b, n1, n2, func(_, fa, fb float64) {
		maxS = math.Max(maxS, fa-fb)
		minS = math.Min(minS, fa-fb)
	})
	minS = math.Max(0, math.Min(1, -minS))
	return math.Max(minS, maxS)
}

// wassersteinW is W₁ of weighted samples.
func wassersteinW(a, b []Weighted, n1, n2 float64) float64 {
	var s kahan
	prev, pa, pb, have := 0.0, 0.0, 0.0, false
	walkW(a, b, n1, n2, func(x, fa, fb float64) {
		if have {
			s.add(math.Abs(pa-pb) * (x - prev))
		}
		prev, pa, pb, have = x, fa, fb, true
	})
	return s.sum()
}

// histogramW sums the weights of sorted items in bins [eᵢ, eᵢ₊₁), the
// last bin closed.
func histogramW(items []Weighted, edges []float64) []float64 {
	out := make([]float64, len(edges)-1)
	bin := 0
	for _, it := range items {
		for bin < len(out)-1 && it.X >= edges[bin+1] {
			bin++
		}
		if it.X >= edges[0] && it.X <= edges[len(edges)-1] {
			out[bin] += it.W
		}
	}
	return out
}

// ksPValue is KS2Samp's p-value for a statistic d of samples of n1 and n2.
func ksPValue(n1, n2 int, d float64) (float64, bool) {
	if max(n1, n2) <= ksMaxAutoN {
		if _, p, ok := ksExact(n1, n2, d); ok {
			return clip01(p), true
		}
	}
	return clip01(ksAsymp(n1, n2, d)), false
}
