package drift

import (
	"math"
	"slices"
)

// ChiSquare is Pearson's chi-square goodness-of-fit test of observed
// counts against expected ones (scipy.stats.chisquare(obs, exp)):
//
//	χ² = Σᵢ (oᵢ − eᵢ)²/eᵢ,  p = ChiSquareSF(k − 1, χ²)
//
// for k categories. A category expected 0 times but observed makes χ²
// infinite and p 0.
func ChiSquare(obs, exp []float64) (stat, p float64) {
	var s kahan
	for i := range obs {
		d := obs[i] - exp[i]
		s.add(d * d / exp[i])
	}
	stat = s.sum()
	if math.IsNaN(stat) { // 0/0: a category neither expected nor observed
		return stat, math.NaN()
	}
	return stat, ChiSquareSF(float64(len(obs)-1), stat)
}

// ExpectedCounts scales the reference counts to the current sample's
// size: eᵢ = refᵢ · n_cur/n_ref, the reference shares times n_cur.
func ExpectedCounts(ref []float64, nRef, nCur float64) []float64 {
	out := make([]float64, len(ref))
	k := nCur / nRef
	for i, r := range ref {
		out[i] = r * k
	}
	return out
}

// ZTest is the pooled two-proportion z-test of the share of one category
// in the reference (x₁ of n₁) and in the current data (x₂ of n₂):
//
//	p̂ = (x₁ + x₂)/(n₁ + n₂),  z = (x₁/n₁ − x₂/n₂) / √(p̂(1 − p̂)(1/n₁ + 1/n₂))
//
// with the two-sided p-value 2·Q(|z|) (NormalSF).
func ZTest(x1, n1, x2, n2 float64) (z, p float64) {
	p1, p2 := x1/n1, x2/n2
	pool := (p1*n1 + p2*n2) / (n1 + n2)
	z = (p1 - p2) / math.Sqrt(pool*(1-pool)*(1/n1+1/n2))
	return z, 2 * NormalSF(math.Abs(z))
}

// Wasserstein is the first Wasserstein (earth mover's) distance between
// the empirical distributions of sorted samples u and v
// (scipy.stats.wasserstein_distance):
//
//	W₁ = ∫ |U(x) − V(x)| dx = Σₖ |U(xₖ) − V(xₖ)|·(xₖ₊₁ − xₖ)
//
// over the sorted pooled values xₖ, U and V the ECDFs.
func Wasserstein(u, v []float64) float64 {
	nu, nv := float64(len(u)), float64(len(v))
	i, j := 0, 0
	var s kahan
	prev, have := 0.0, false
	for i < len(u) || j < len(v) {
		var x float64
		if j >= len(v) || (i < len(u) && u[i] <= v[j]) {
			x = u[i]
		} else {
			x = v[j]
		}
		if have {
			s.add(math.Abs(float64(i)/nu-float64(j)/nv) * (x - prev))
		}
		for i < len(u) && u[i] <= x {
			i++
		}
		for j < len(v) && v[j] <= x {
			j++
		}
		prev, have = x, true
	}
	return s.sum()
}

// PopulationStd is √(Σ(xᵢ − x̄)²/n), numpy.std with ddof=0, in two
// compensated passes.
func PopulationStd(x []float64) float64 {
	var s kahan
	for _, v := range x {
		s.add(v)
	}
	mean := s.sum() / float64(len(x))
	var q kahan
	for _, v := range x {
		q.add((v - mean) * (v - mean))
	}
	return math.Sqrt(q.sum() / float64(len(x)))
}

// NormedWasserstein is Wasserstein(ref, cur) / max(PopulationStd(ref), 0.001),
// the distance in units of the reference's spread (Evidently's
// wasserstein test), so one threshold serves every column.
func NormedWasserstein(ref, cur []float64, refStd float64) float64 {
	return Wasserstein(ref, cur) / math.Max(refStd, 0.001)
}

// JensenShannon is the Jensen–Shannon distance (natural log) of two
// distributions given as shares or counts (scipy.spatial.distance.jensenshannon):
//
//	p ← p/Σp, q ← q/Σq, m = (p + q)/2,
//	JS = √((KL(p‖m) + KL(q‖m))/2),  KL(a‖b) = Σ aᵢ ln(aᵢ/bᵢ) (0 ln 0 = 0)
func JensenShannon(p, q []float64) float64 {
	sp, sq := sum(p), sum(q)
	var left, right kahan
	for i := range p {
		a, b := p[i]/sp, q[i]/sq
		m := (a + b) / 2
		left.add(relEntr(a, m))
		right.add(relEntr(b, m))
	}
	return math.Sqrt((left.sum() + right.sum()) / 2)
}

func relEntr(x, y float64) float64 {
	switch {
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	}
	return math.Inf(1)
}

// PSI is the population stability index of reference shares r and
// current shares c over the same bins:
//
//	PSI = Σᵢ (rᵢ − cᵢ)·ln(rᵢ/cᵢ)
//
// with empty bins filled first (FillEmpty), so no term is infinite.
func PSI(r, c []float64) float64 {
	r, c = FillEmpty(r), FillEmpty(c)
	var s kahan
	for i := range r {
		s.add((r[i] - c[i]) * math.Log(r[i]/c[i]))
	}
	return s.sum()
}

// FillEmpty returns shares with each zero replaced: by min(non-zero
// share)/10⁶ when that minimum is at most 10⁻⁴, else by 10⁻⁴ (Evidently's
// rule for PSI).
func FillEmpty(shares []float64) []float64 {
	mn := math.Inf(1)
	for _, s := range shares {
		if s != 0 {
			mn = math.Min(mn, s)
		}
	}
	fill := 1e-4
	if mn <= 1e-4 {
		fill = mn / 1e6
	}
	out := slices.Clone(shares)
	for i, s := range out {
		if s == 0 {
			out[i] = fill
		}
	}
	return out
}

// SturgesEdges are numpy's histogram_bin_edges(x, bins="sturges") for n
// pooled values ranging over [lo, hi]: width = (hi − lo)/(log₂ n + 1),
// ⌈(hi − lo)/width⌉ equal bins from lo to hi (edgeᵢ = lo + i·step, the
// last exactly hi); a single value v gives one bin [v − ½, v + ½].
func SturgesEdges(lo, hi float64, n int) []float64 {
	nb := 1
	if width := (hi - lo) / (math.Log2(float64(n)) + 1.0); width != 0 {
		nb = int(math.Ceil((hi - lo) / width))
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	edges := make([]float64, nb+1)
	step := (hi - lo) / float64(nb)
	for i := range edges {
		edges[i] = float64(i)*step + lo
	}
	edges[nb] = hi
	return edges
}

// Histogram counts sorted values into bins [eᵢ, eᵢ₊₁), the last bin
// closed (numpy.histogram with explicit edges).
func Histogram(sorted, edges []float64) []float64 {
	out := make([]float64, len(edges)-1)
	for i := range out {
		lo, _ := slices.BinarySearch(sorted, edges[i]) // first ≥ edge
		var hi int
		if i == len(out)-1 {
			hi = upperBound(sorted, edges[i+1])
		} else {
			hi, _ = slices.BinarySearch(sorted, edges[i+1])
		}
		out[i] = float64(hi - lo)
	}
	return out
}

// upperBound is the index of the first value > x.
func upperBound(sorted []float64, x float64) int {
	i, _ := slices.BinarySearchFunc(sorted, x, func(v, t float64) int {
		if v <= t {
			return -1
		}
		return 1
	})
	return i
}

func sum(x []float64) float64 {
	var s kahan
	for _, v := range x {
		s.add(v)
	}
	return s.sum()
}

// kahan is Neumaier's compensated sum.
type kahan struct{ s, c float64 }

func (k *kahan) add(x float64) {
	if math.IsInf(x, 0) || math.IsInf(k.s, 0) {
		k.s, k.c = k.s+x, 0
		return
	}
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

func (k *kahan) sum() float64 { return k.s + k.c }

// BinShares are the shares of sorted samples ref and cur in the Sturges
// bins of both together (SturgesEdges over their pooled range and size).
func BinShares(ref, cur []float64) (r, c []float64) {
	lo, hi := math.Min(ref[0], cur[0]), math.Max(ref[len(ref)-1], cur[len(cur)-1])
	edges := SturgesEdges(lo, hi, len(ref)+len(cur))
	r, c = Histogram(ref, edges), Histogram(cur, edges)
	return divide(r, float64(len(ref))), divide(c, float64(len(cur)))
}

// CategoryShares are the shares of each value in ref and cur, over the
// values of both in byte order.
func CategoryShares(ref, cur map[string]int64) (keys []string, r, c []float64) {
	keys, r, c = categoryCounts(ref, cur)
	var nr, nc int64
	for _, v := range ref {
		nr += v
	}
	for _, v := range cur {
		nc += v
	}
	return keys, divide(r, float64(nr)), divide(c, float64(nc))
}

func divide(x []float64, d float64) []float64 {
	for i := range x {
		x[i] /= d
	}
	return x
}
