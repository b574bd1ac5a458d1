package drift

import "math"

// KSTwoSF is the survival function of the two-sided one-sample
// Kolmogorov–Smirnov statistic Dₙ, P(Dₙ > x) (scipy.stats.kstwo.sf,
// Simard and L'Ecuyer 2011), choosing among exact methods as SciPy does:
//
//   - nx ≤ 1 or nx ≥ n−1: Ruben–Gambino closed forms
//     (n!/nⁿ·(2nx−1)ⁿ, 2(1−x)ⁿ);
//   - x ≥ 0.5: 2·SmirnovSF(n, x) (exact there);
//   - n ≤ 140: Durbin's matrix (Marsaglia–Tsang–Wang) for nx² ≤ 0.754693,
//     Pomeranz's recursion for nx² ≤ 4, else 2·SmirnovSF;
//   - n > 140: 0 for nx² ≥ 370, 2·SmirnovSF for nx² ≥ 2.2, else 1 − CDF
//     with the CDF by Durbin's matrix (n ≤ 100,000 and n·x^1.5 ≤ 1.4)
//     or the Pelz–Good asymptotic series.
func KSTwoSF(n int, x float64) float64 {
	if n <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	fn := float64(n)
	if x >= 1 {
		return 0
	}
	if x <= 0 {
		return 1
	}
	t := fn * x
	if t <= 1 {
		if t <= 0.5 {
			return 1
		}
		var prob float64
		if n <= 140 {
			prob = 1.0
			for i := 1; i <= n; i++ {
				prob *= float64(i) * (1.0 / fn) * (2*t - 1)
			}
		} else {
			prob = math.Exp(logNFactorialDivNPowN(fn) + fn*math.Log(2*t-1))
		}
		return clip01(1 - prob)
	}
	if t >= fn-1 {
		return clip01(2 * math.Pow(1-x, fn))
	}
	if x >= 0.5 {
		return clip01(2 * SmirnovSF(n, x))
	}
	nxx := t * x
	if n <= 140 {
		switch {
		case nxx <= 0.754693:
			return clip01(1 - kolmognDMTW(n, x))
		case nxx <= 4:
			return clip01(1 - kolmognPomeranz(n, x))
		}
		return clip01(2 * SmirnovSF(n, x))
	}
	if nxx >= 370 {
		return 0
	}
	if nxx >= 2.2 {
		return clip01(2 * SmirnovSF(n, x))
	}
	var cdf float64
	switch {
	case nxx >= 18:
		cdf = 1
	case n <= 100000 && fn*math.Pow(x, 1.5) <= 1.4:
		cdf = kolmognDMTW(n, x)
	default:
		cdf = kolmognPelzGood(n, x)
	}
	return clip01(1 - cdf)
}

// logNFactorialDivNPowN is log(n!/nⁿ) by Stirling's series.
func logNFactorialDivNPowN(n float64) float64 {
	coeffs := []float64{-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2}
	rn := 1 / n
	v := 0.0
	for _, c := range coeffs {
		v = v*(rn/n) + c
	}
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*v
}

const (
	ep128 = 0x1p128
	em128 = 0x1p-128
)

// kolmognDMTW is P(Dₙ ≤ d) by Durbin's matrix: with d = (k−h)/n, the
// (k,k) entry of Hⁿ·n!/nⁿ for the (2k−1)×(2k−1) matrix H, powers
// computed by squaring with power-of-two rescaling.
func kolmognDMTW(n int, d float64) float64 {
	if d >= 1 {
		return 1
	}
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1
	H := newMat(m)
	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		v[j-1] = 1 - math.Pow(h, float64(j))
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] *= fac
	}
	tt := math.Pow(math.Max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H[r][i] = w[r-(i-1)]
		}
	}
	for r := range m {
		H[r][0] = v[r]
	}
	for c := range m {
		H[m-1][c] = v[m-1-c]
	}
	P := newMat(m)
	for i := range m {
		P[i][i] = 1
	}
	nn, expnt, hexpnt := n, 0, 0
	for nn > 0 {
		if nn%2 == 1 {
			P = matMul(P, H)
			expnt += hexpnt
		}
		H = matMul(H, H)
		hexpnt *= 2
		if math.Abs(H[k-1][k-1]) > ep128 {
			for _, row := range H {
				for c := range row {
					row[c] /= ep128
				}
			}
			hexpnt += 128
		}
		nn /= 2
	}
	p := P[k-1][k-1]
	for i := 1; i <= n; i++ {
		p = float64(i) * p / float64(n)
		if math.Abs(p) < em128 {
			p *= ep128
			expnt -= 128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return clip01(p)
}

func newMat(m int) [][]float64 {
	out := make([][]float64, m)
	buf := make([]float64, m*m)
	for i := range out {
		out[i] = buf[i*m : (i+1)*m]
	}
	return out
}

func matMul(a, b [][]float64) [][]float64 {
	m := len(a)
	out := newMat(m)
	for i := range m {
		for k := range m {
			aik := a[i][k]
			if aik == 0 {
				continue
			}
			for j := range m {
				out[i][j] += aik * b[k][j]
			}
		}
	}
	return out
}

// kolmognPomeranz is P(Dₙ ≤ x) by Pomeranz's recursion (1974): rows of
// a 2(n+1)-step convolution with truncated Poisson weights, times n!.
func kolmognPomeranz(n int, x float64) float64 {
	fn := float64(n)
	t := fn * x
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpower, twogpower, onem2gpower := pomeranzPowers(npwrs, g/fn), pomeranzPowers(npwrs, 2*g/fn), pomeranzPowers(npwrs, (1-2*g)/fn)
	V0 := make([]float64, npwrs)
	V1 := make([]float64, npwrs)
	V1[0] = 1
	V0s, V1s := 0, 0
	expnt := 0
	j1, _ := pomeranzJ1J2(0, n, ll, ceilf, roundf)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		V0, V1 = V1, V0
		V0s, V1s = V1s, V0s
		clear(V1)
		var j2 int
		j1, j2 = pomeranzJ1J2(i, n, ll, ceilf, roundf)
		pwrs := onem2gpower
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpower
		case i%2 == 1:
			pwrs = twogpower
		}
		ln2 := j2 - k1 + 1
		if ln2 > 0 {
			src := V0[k1-V0s : min(k1-V0s+ln2, len(V0))]
			pw := pwrs[:min(ln2, len(pwrs))]
			convStart := j1 - k1
			convLen := j2 - j1 + 1
			mx := convolve(V1, src, pw, convStart, convLen)
			if mx > 0 && mx < em128 {
				for c := range V1 {
					V1[c] *= ep128
				}
				expnt -= 128
			}
			V1s = V0s + j1 - k1
		}
	}
	return clip01(timesFactorial(V1[n-V1s], n, expnt))
}

// pomeranzPowers returns the truncated Poisson weights w[m] = aᵐ/m! for
// m < k.
func pomeranzPowers(k int, a float64) []float64 {
	w := make([]float64, k)
	w[0] = 1
	for m := 1; m < k; m++ {
		w[m] = w[m-1] * a / float64(m)
	}
	return w
}

// convolve sets dst[c] = Σ_q src[q]·pw[start+c−q] for c < n, and returns
// the largest value written.
func convolve(dst, src, pw []float64, start, n int) float64 {
	mx := 0.0
	for c := range n {
		idx := start + c
		s := 0.0
		for q := max(0, idx-len(pw)+1); q <= idx && q < len(src); q++ {
			s += src[q] * pw[idx-q]
		}
		dst[c] = s
		mx = math.Max(mx, s)
	}
	return mx
}

// timesFactorial returns ans·n!·2^expnt, rescaling by 2¹²⁸ on the way so
// that the product does not overflow before the exponent is applied.
func timesFactorial(ans float64, n, expnt int) float64 {
	for m := 1; m <= n; m++ {
		if math.Abs(ans) > ep128 {
			ans *= em128
			expnt += 128
		}
		ans *= float64(m)
	}
	if expnt != 0 {
		ans = math.Ldexp(ans, expnt)
	}
	return ans
}

func pomeranzJ1J2(i, n, ll, ceilf, roundf int) (int, int) {
	var j1, j2 int
	if i == 0 {
		j1, j2 = -ll-ceilf-1, ll+ceilf-1
	} else {
		ip1div2, ip1mod2 := (i+1)/2, (i+1)%2
		if ip1mod2 == 0 {
			if ip1div2 == n+1 {
				j1, j2 = n-ll-ceilf-1, n+ll+ceilf-1
			} else {
				j1, j2 = ip1div2-1-ll-roundf-1, ip1div2+ll-1+ceilf-1
			}
		} else {
			j1, j2 = ip1div2-1-ll-1, ip1div2+ll+roundf-1
		}
	}
	return max(j1+2, 0), min(j2, n)
}

// kolmognPelzGood is the Pelz–Good (1976) approximation of P(Dₙ ≤ x):
// K₀(z) + K₁(z)/√n + K₂(z)/n + K₃(z)/n^1.5 with z = x√n, each Kᵢ
// summed in its Jacobi-theta form (small z).
func kolmognPelzGood(n int, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	fn := float64(n)
	z := math.Sqrt(fn) * x
	z2, z3, z4, z6 := z*z, z*z*z, math.Pow(z, 4), math.Pow(z, 6)
	pi2, pi4, pi6 := math.Pi*math.Pi, math.Pow(math.Pi, 4), math.Pow(math.Pi, 6)
	qlog := -pi2 / 8 / z2
	if qlog < -708 {
		return 0
	}
	q := math.Exp(qlog)
	k1a, k1b := -z2, pi2/4
	k2a := 6*z6 + 2*z4
	k2b := (2*z4 - 5*z2) * pi2 / 4
	k2c := pi4 * (1 - 2*z2) / 16
	k3d := pi6 * (5 - 30*z2) / 64
	k3c := pi4 * (-60*z2 + 212*z4) / 16
	k3b := pi2 * (135*z4 - 96*z6) / 4
	k3a := -30*z6 - 90*math.Pow(z, 8)
	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		m2, m4, m6 := m*m, math.Pow(m, 4), math.Pow(m, 6)
		qp := math.Pow(q, float64(8*k))
		c := [4]float64{1, k1a + k1b*m2, k2a + k2b*m2 + k2c*m4, k3a + k3b*m2 + k3c*m4 + k3d*m6}
		for i := range K {
			K[i] = K[i]*qp + c[i]
		}
	}
	s2p := math.Sqrt(2 * math.Pi)
	div := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] = K[i] * q * s2p / div[i]
	}
	q = math.Exp(-pi2 / 2 / z2)
	sqrt3z := math.Sqrt(3) * z
	k2extra, k3extra := 0.0, 0.0
	for k := maxk; k > 0; k-- {
		fk := float64(k)
		ksq := fk * fk
		qp := math.Pow(q, ksq)
		k2extra += ksq * qp
		kspi := math.Pi * fk
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp
	}
	K[2] += k2extra * pi2 * s2p / (-36 * z3)
	K[3] += k3extra * pi2 * s2p / (216 * z6)
	sum := 0.0
	for i := range K {
		sum += K[i] / math.Pow(fn, float64(i)/2)
	}
	return sum
}
