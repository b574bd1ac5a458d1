package drift

import "math"

// KSResult is a two-sample Kolmogorov–Smirnov test.
type KSResult struct {
	D     float64 // sup |F₁(x) − F₂(x)| over the pooled values
	P     float64 // two-sided p-value
	Exact bool    // P is the exact distribution's (else Smirnov's asymptotic one)
}

// ksMaxAutoN is SciPy's MAX_AUTO_N: ks_2samp is exact when both samples
// have at most this many values.
const ksMaxAutoN = 10000

// KS2Samp is the two-sample Kolmogorov–Smirnov test of sorted samples a
// and b (n₁, n₂ > 0), as scipy.stats.ks_2samp(a, b) computes it by default
// (method='auto', two-sided):
//
//	D = max over pooled x of |#{aᵢ ≤ x}/n₁ − #{bⱼ ≤ x}/n₂|
//
// When max(n₁, n₂) ≤ 10,000 the p-value is exact, P(D ≥ d) under H₀:
// h = round(d·lcm(n₁,n₂)); for n₁ = n₂ = n, 2·Σₖ (−1)^(k−1) C(2n, n−kh)/C(2n, n)
// in Horner form, else 1 − (lattice paths from (0,0) to (n₁,n₂) staying
// strictly inside |x/n₁ − y/n₂| < h/lcm)/C(n₁+n₂, n₁), counted by Hodges'
// inside method with Viehmann's recursion for 1 − p (one column, scaled
// by i/(i+j) at each step). Otherwise, or when the exact sum fails, it is
// Smirnov's: the one-sample Kolmogorov distribution's survival function
// at d with n = round(n₁n₂/(n₁+n₂)) (KSTwoSF).
func KS2Samp(a, b []float64) KSResult {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return KSResult{D: math.NaN(), P: math.NaN()}
	}
	d := ksStatistic(a, b)
	if max(n1, n2) <= ksMaxAutoN {
		if dd, p, ok := ksExact(n1, n2, d); ok {
			return KSResult{D: dd, P: clip01(p), Exact: true}
		}
	}
	return KSResult{D: d, P: clip01(ksAsymp(n1, n2, d))}
}

// ksStatistic is D of two sorted samples; each ECDF value is the count
// divided by the size, as SciPy computes it (searchsorted / n).
func ksStatistic(a, b []float64) float64 {
	n1, n2 := float64(len(a)), float64(len(b))
	i, j := 0, 0
	maxS, minS := math.Inf(-1), math.Inf(1)
	for i < len(a) || j < len(b) {
		var x float64
		switch {
		case j >= len(b) || (i < len(a) && a[i] <= b[j]):
			x = a[i]
		default:
			x = b[j]
		}
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		diff := float64(i)/n1 - float64(j)/n2
		maxS = math.Max(maxS, diff)
		minS = math.Min(minS, diff)
	}
	minS = math.Max(0, math.Min(1, -minS))
	if minS > maxS {
		return minS
	}
	return maxS
}

func ksAsymp(n1, n2 int, d float64) float64 {
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := m * n / (m + n)
	return KSTwoSF(int(math.RoundToEven(en)), d)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ksExact returns the exact two-sided p-value and the statistic rounded
// to the lattice (h/lcm), or ok=false when it cannot be computed.
func ksExact(n1, n2 int, d float64) (float64, float64, bool) {
	g := gcd(n1, n2)
	lcm := float64((n1 / g) * n2)
	h := int(math.RoundToEven(d * lcm))
	d = float64(h) / lcm
	if h == 0 {
		return d, 1, true
	}
	var p float64
	if n1 == n2 {
		p = ksProbOutsideSquare(n1, h)
	} else {
		p = ksOuterProbInside(n1, n2, g, h)
	}
	if math.IsNaN(p) || math.IsInf(p, 0) || p < 0 || p > 1 {
		return d, p, false
	}
	return d, p, true
}

// ksProbOutsideSquare is P(D_{n,n} ≥ h/n) = 2·Σₖ (−1)^(k−1) C(2n, n−kh)/C(2n, n),
// evaluated as 2·A₀(1 − A₁(1 − A₂(…))) with Aₖ = Πⱼ (n−kh−j)/(n+kh+j+1).
func ksProbOutsideSquare(n, h int) float64 {
	p := 0.0
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := range h {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		p = p1 * (1 - p)
	}
	return 2 * p
}

// ksOuterProbInside is 1 − (paths inside |x/m − y/n| < h/lcm)/C(m+n, n),
// computed column by column as the share of paths that have left the band.
func ksOuterProbInside(m, n, g, h int) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := 0, min(ceilDiv(h, mg), n+1)
	curlen := maxj - minj
	lenA := min(2*maxj+2, n+1)
	A := make([]float64, lenA)
	for i := range A {
		A[i] = 1
	}
	for i := minj; i < maxj; i++ {
		A[i] = 0
	}
	for i := 1; i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(floorDiv(ng*i-h, mg)+1, 0)
		minj = min(minj, n)
		maxj = min(ceilDiv(ng*i+h, mg), n+1)
		if maxj <= minj {
			return 1
		}
		val := 1.0
		if minj == 0 {
			val = 0
		}
		fi := float64(i)
		for jj := range maxj - minj {
			j := jj + minj
			val = (A[jj+minj-lastminj]*fi + val*float64(j)) / (fi + float64(j))
			A[jj] = val
		}
		curlen = maxj - minj
		if lastlen > curlen {
			for k := maxj - minj; k < maxj-minj+(lastlen-curlen) && k < len(A); k++ {
				A[k] = 1
			}
		}
	}
	return A[maxj-minj-1]
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int) int { return -floorDiv(-a, b) }
