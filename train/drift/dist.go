package drift

import "math"

// The distribution functions the tests need, written to agree with
// SciPy 1.10 (scipy.special and scipy.stats) to about 1e-12 relative.

// NormalSF is the standard normal survival function
//
//	Q(z) = P(Z > z) = ½·erfc(z/√2)
//
// computed through erfc so that the far tail keeps its relative accuracy
// (scipy.stats.norm.sf).
func NormalSF(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) }

// ChiSquareSF is the chi-square survival function with df degrees of
// freedom:
//
//	P(X > x) = Q(df/2, x/2) = Γ(df/2, x/2) / Γ(df/2)
//
// the regularized upper incomplete gamma function (scipy.stats.chi2.sf,
// cephes chdtrc).
func ChiSquareSF(df, x float64) float64 {
	if x <= 0 {
		return 1
	}
	return GammaQ(df/2, x/2)
}

// GammaQ is the regularized upper incomplete gamma function
//
//	Q(a, x) = 1/Γ(a) ∫ₓ^∞ t^(a−1) e^(−t) dt
//
// by its power series (Q = 1 − P, P = x^a e^(−x)/Γ(a+1) · Σₖ xᵏ/((a+1)…(a+k)))
// when x < 1 or x < a, and by its continued fraction (modified Lentz)
// otherwise, as cephes igamc chooses.
func GammaQ(a, x float64) float64 {
	switch {
	case math.IsNaN(a) || math.IsNaN(x) || a <= 0 || x < 0:
		return math.NaN()
	case x == 0:
		return 1
	case math.IsInf(x, 1):
		return 0
	}
	lg, _ := math.Lgamma(a)
	ax := a*math.Log(x) - x - lg
	if x < 1 || x < a {
		r, c, sum := a, 1.0, 1.0
		for range 100000 {
			r++
			c *= x / r
			sum += c
			if c <= sum*1e-17 {
				break
			}
		}
		return 1 - math.Exp(ax)*sum/a
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 100000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-17 {
			break
		}
	}
	return math.Exp(ax) * h
}

// KolmogorovSF is the survival function of Kolmogorov's limiting
// distribution of √n·Dₙ (scipy.special.kolmogorov):
//
//	K̄(y) = 2 Σₖ₌₁^∞ (−1)^(k−1) e^(−2k²y²)
//
// and, for y ≤ 0.82 where that series converges slowly,
// 1 − √(2π)/y · Σₖ₌₁^∞ e^(−(2k−1)²π²/(8y²)).
func KolmogorovSF(y float64) float64 {
	switch {
	case math.IsNaN(y):
		return math.NaN()
	case y <= math.Pi/math.Sqrt(746*8):
		return 1
	case y <= 0.82:
		w := math.Sqrt(2*math.Pi) / y
		logu8 := -math.Pi * math.Pi / (y * y)
		u := math.Exp(logu8 / 8)
		u8 := math.Exp(logu8)
		p := 1.0
		p = 1 + math.Pow(u8, 3)*p
		p = 1 + u8*u8*p
		p = 1 + u8*p
		return clip01(1 - w*u*p)
	}
	v := math.Exp(-2 * y * y)
	v3 := math.Pow(v, 3)
	p := 1.0
	p = 1 - v3*v3*v*p
	p = 1 - v3*v*v*p
	p = 1 - v3*p
	return clip01(2 * v * p)
}

func clip01(p float64) float64 { return math.Max(0, math.Min(1, p)) }

// SmirnovSF is the exact survival function of the one-sided one-sample
// statistic D⁺ₙ (Birnbaum and Tingey 1951; scipy.special.smirnov):
//
//	P(D⁺ₙ > d) = d Σ_{v=0}^{⌊n(1−d)⌋} C(n,v) (d + v/n)^(v−1) (1 − d − v/n)^(n−v)
//
// summed in logarithms so no term overflows, with the special cases
// d ≤ 1/n (1 − d(1+d)^(n−1)) and d ≥ 1 − 1/n ((1−d)^n).
func SmirnovSF(n int, d float64) float64 {
	switch {
	case n <= 0 || math.IsNaN(d) || d < 0 || d > 1:
		return math.NaN()
	case n == 1:
		return 1 - d
	case d == 0:
		return 1
	case d == 1:
		return 0
	}
	fn := float64(n)
	nx := fn * d
	nxfl := math.Floor(nx)
	alpha := nx - nxfl
	if alpha >= 1 {
		nxfl, alpha = nxfl+1, 0
	}
	if nxfl == 0 || (nxfl == 1 && alpha == 0) {
		return clip01(1 - d*math.Pow(1+d, fn-1))
	}
	if -2*fn*d*d < -7.08396418532264106224e2 {
		return 0
	}
	if int(nxfl) >= n-1 {
		return math.Pow(1-d, fn)
	}
	if n > 1000000 {
		logp := -math.Pow(6*fn*d+1, 2) / 18 / fn
		if logp < -math.Ln2 {
			return math.Exp(logp)
		}
		return 1 + math.Expm1(logp)
	}
	last := n - int(nxfl) - 1 // the last v with 1 − d − v/n > 0
	lgn, _ := math.Lgamma(fn + 1)
	sum := 0.0
	for v := 0; v <= last; v++ {
		fv := float64(v)
		lgv, _ := math.Lgamma(fv + 1)
		lgnv, _ := math.Lgamma(fn - fv + 1)
		t2 := (fn-fv)/fn - d
		t1 := fv/fn + d
		lt := lgn - lgv - lgnv + (fn-fv)*math.Log(t2) + (fv-1)*math.Log(t1)
		a := math.Exp(lt)
		sum += a
		if a != 0 && 4*float64(last+1-v)*a < 2.220446049250313e-16*sum && v != last {
			break
		}
		if a == 0 && v > n/2 {
			break
		}
	}
	return clip01(d * sum)
}
