package drift

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// python returns the Python with SciPy and NumPy to check against
// (DV_PYTHON, else /usr/bin/python3), skipping the test when there is none
// unless DV_REQUIRE_TOOLS is set.
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("DV_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if err := exec.Command(py, "-c", "import scipy, numpy").Run(); err != nil {
		if os.Getenv("DV_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s with scipy and numpy is not available (apt-get install -y python3-scipy) and DV_REQUIRE_TOOLS is set: %v", py, err)
		}
		t.Skipf("%s with scipy and numpy is not available (apt-get install -y python3-scipy); set DV_REQUIRE_TOOLS=1 to fail instead", py)
	}
	return py
}

type refCase struct {
	Op   string    `json:"op"`
	A    []float64 `json:"a,omitempty"`
	B    []float64 `json:"b,omitempty"`
	N    int       `json:"n"`
	X    float64   `json:"x"`
	Df   float64   `json:"df"`
	Ag   float64   `json:"a_"`
	Kind string    `json:"kind,omitempty"`
	X1   float64   `json:"x1"`
	N1   float64   `json:"n1"`
	X2   float64   `json:"x2"`
	N2   float64   `json:"n2"`

	name string
}

// scipyValues runs testdata/scipy_ref.py over the cases.
func scipyValues(t *testing.T, cases []*refCase) [][]float64 {
	t.Helper()
	py := python(t)
	b, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/scipy_ref.py", in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scipy_ref.py: %v", err)
	}
	var raw [][]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("scipy_ref.py output: %v", err)
	}
	res := make([][]float64, len(raw))
	for i, row := range raw {
		for _, v := range row {
			switch v := v.(type) {
			case float64:
				res[i] = append(res[i], v)
			case string:
				f, _ := strconv.ParseFloat(v, 64)
				res[i] = append(res[i], f)
			}
		}
	}
	return res
}

// agree reports whether a and b agree to 1e-9 relative (exactly for 0,
// infinities and NaN).
func agree(a, b float64) bool {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return math.IsNaN(a) && math.IsNaN(b)
	case math.IsInf(a, 0) || math.IsInf(b, 0) || a == 0 || b == 0:
		return a == b || math.Abs(a-b) < 1e-300
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func sorted(x []float64) []float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	return x
}

func normals(r *rand.Rand, n int, mu, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mu + sd*r.NormFloat64()
	}
	return out
}

func ints(r *rand.Rand, n, k int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(r.IntN(k))
	}
	return out
}

func countsOf(x []float64) map[string]int64 {
	m := map[string]int64{}
	for _, v := range x {
		m[strconv.FormatFloat(v, 'g', -1, 64)]++
	}
	return m
}

// compute fills in dv's value for a case.
func compute(c *refCase) []float64 {
	switch c.Op {
	case "ks2":
		r := KS2Samp(sorted(c.A), sorted(c.B))
		return []float64{r.D, r.P}
	case "kstwo":
		return []float64{KSTwoSF(c.N, c.X)}
	case "smirnov":
		return []float64{SmirnovSF(c.N, c.X)}
	case "kolmogorov":
		return []float64{KolmogorovSF(c.X)}
	case "gammaq":
		return []float64{GammaQ(c.Ag, c.X)}
	case "chi2sf":
		return []float64{ChiSquareSF(c.Df, c.X)}
	case "normsf":
		return []float64{NormalSF(c.X)}
	case "chisquare":
		_, r, obs := categoryCounts(countsOf(c.A), countsOf(c.B))
		s, p := ChiSquare(obs, ExpectedCounts(r, float64(len(c.A)), float64(len(c.B))))
		return []float64{s, p}
	case "ztest":
		z, p := ZTest(c.X1, c.N1, c.X2, c.N2)
		return []float64{z, p}
	case "wasserstein":
		a := sorted(c.A)
		return []float64{NormedWasserstein(a, sorted(c.B), PopulationStd(a))}
	case "js", "psi":
		var r, q []float64
		if c.Kind == "bins" {
			r, q = BinShares(sorted(c.A), sorted(c.B))
		} else {
			_, r, q = CategoryShares(countsOf(c.A), countsOf(c.B))
		}
		if c.Op == "js" {
			return []float64{JensenShannon(r, q)}
		}
		return []float64{PSI(r, q)}
	case "sturges":
		a, b := sorted(c.A), sorted(c.B)
		return SturgesEdges(math.Min(a[0], b[0]), math.Max(a[len(a)-1], b[len(b)-1]), len(a)+len(b))
	}
	panic(c.Op)
}

// referenceCases are generated samples plus textbook points.
func referenceCases() []*refCase {
	r := rand.New(rand.NewPCG(9, 2026))
	var cs []*refCase
	add := func(name string, c refCase) { c.name = name; cs = append(cs, &c) }
	// Two-sample KS: exact (equal and unequal sizes, ties), asymptotic.
	sizes := [][2]int{{5, 7}, {8, 8}, {20, 20}, {30, 45}, {100, 150}, {250, 260}, {1000, 1000}, {997, 1000}, {3000, 10000}, {200, 12000}, {11000, 50}, {900, 20000}}
	for _, sz := range sizes {
		for _, shift := range []float64{0, 0.1, 0.5, 2} {
			add(fmt.Sprintf("ks2 %v shift %g", sz, shift), refCase{Op: "ks2", A: normals(r, sz[0], 0, 1), B: normals(r, sz[1], shift, 1)})
		}
		add(fmt.Sprintf("ks2 ties %v", sz), refCase{Op: "ks2", A: ints(r, sz[0], 7), B: ints(r, sz[1], 8)})
	}
	// Textbook: disjoint samples (D = 1) and identical ones (D = 0).
	add("ks2 disjoint", refCase{Op: "ks2", A: []float64{1, 2, 3, 4, 5}, B: []float64{6, 7, 8, 9, 10, 11}})
	add("ks2 same", refCase{Op: "ks2", A: []float64{1, 2, 3}, B: []float64{1, 2, 3}})
	// The one-sample distributions over every branch of SciPy's choice.
	for _, n := range []int{1, 2, 3, 5, 10, 37, 100, 140, 141, 500, 1000, 5000, 99999, 100001, 400000} {
		for _, x := range []float64{0.001, 0.004, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.7, 0.9, 0.99} {
			add(fmt.Sprintf("kstwo n=%d x=%g", n, x), refCase{Op: "kstwo", N: n, X: x})
			if n <= 100000 {
				add(fmt.Sprintf("smirnov n=%d x=%g", n, x), refCase{Op: "smirnov", N: n, X: x})
			}
		}
	}
	for _, y := range []float64{0.05, 0.2, 0.5, 0.82, 0.83, 1, 1.36, 1.63, 2, 3, 5} {
		add(fmt.Sprintf("kolmogorov %g", y), refCase{Op: "kolmogorov", X: y})
	}
	// Chi-square: the survival function, and textbook table points
	// (df 1 at 3.841, df 10 at 18.307: p = 0.05; df 4 at 13.277: 0.01).
	for _, p := range [][2]float64{{1, 3.841458820694124}, {10, 18.307038053275146}, {4, 13.276704135987622}, {1, 0.001}, {2, 50}, {30, 29}, {99, 150}, {1000, 1100}, {5000, 4800}, {3, 700}} {
		add(fmt.Sprintf("chi2sf df=%g x=%g", p[0], p[1]), refCase{Op: "chi2sf", Df: p[0], X: p[1]})
		add(fmt.Sprintf("gammaq a=%g x=%g", p[0]/2, p[1]/2), refCase{Op: "gammaq", Ag: p[0] / 2, X: p[1] / 2})
	}
	for _, z := range []float64{-3, 0, 0.5, 1.959963984540054, 3, 8, 20, 37} {
		add(fmt.Sprintf("normsf %g", z), refCase{Op: "normsf", X: z})
	}
	// Category tests on generated codes.
	for _, sz := range [][2]int{{50, 60}, {900, 1000}, {5000, 300}} {
		for _, k := range []int{3, 6, 12} {
			add(fmt.Sprintf("chisquare %v k=%d", sz, k), refCase{Op: "chisquare", A: ints(r, sz[0], k), B: ints(r, sz[1], k)})
			add(fmt.Sprintf("chisquare new category %v k=%d", sz, k), refCase{Op: "chisquare", A: ints(r, sz[0], k), B: ints(r, sz[1], k+1)})
			add(fmt.Sprintf("js cats %v k=%d", sz, k), refCase{Op: "js", Kind: "cats", A: ints(r, sz[0], k), B: ints(r, sz[1], k+1)})
			add(fmt.Sprintf("psi cats %v k=%d", sz, k), refCase{Op: "psi", Kind: "cats", A: ints(r, sz[0], k), B: ints(r, sz[1], k+1)})
		}
	}
	for _, z := range [][4]float64{{40, 100, 55, 120}, {500, 1000, 480, 1000}, {1, 2000, 30, 3000}, {990, 1000, 10, 1000}} {
		add(fmt.Sprintf("ztest %v", z), refCase{Op: "ztest", X1: z[0], N1: z[1], X2: z[2], N2: z[3]})
	}
	for _, sz := range [][2]int{{1001, 1200}, {5000, 3000}, {20000, 20000}} {
		for _, shift := range []float64{0, 0.05, 1} {
			a, b := normals(r, sz[0], 10, 2), normals(r, sz[1], 10+shift, 2)
			add(fmt.Sprintf("wasserstein %v %g", sz, shift), refCase{Op: "wasserstein", A: a, B: b})
			add(fmt.Sprintf("js bins %v %g", sz, shift), refCase{Op: "js", Kind: "bins", A: a, B: b})
			add(fmt.Sprintf("psi bins %v %g", sz, shift), refCase{Op: "psi", Kind: "bins", A: a, B: b})
			add(fmt.Sprintf("sturges %v %g", sz, shift), refCase{Op: "sturges", A: a, B: b})
		}
	}
	add("wasserstein constant reference", refCase{Op: "wasserstein", A: []float64{3, 3, 3, 3}, B: []float64{3, 4, 5}})
	add("sturges one value", refCase{Op: "sturges", A: []float64{2, 2}, B: []float64{2}})
	add("psi bins tiny shares", refCase{Op: "psi", Kind: "bins", A: normals(r, 30000, 0, 1), B: normals(r, 30000, 3, 1)})
	return cs
}

func TestAgainstSciPy(t *testing.T) {
	cases := referenceCases()
	want := scipyValues(t, cases)
	if len(want) != len(cases) {
		t.Fatalf("scipy_ref.py returned %d results for %d cases", len(want), len(cases))
	}
	exactKS := 0
	for i, c := range cases {
		got := compute(c)
		if len(got) != len(want[i]) {
			t.Errorf("%s: dv %d values, scipy %d", c.name, len(got), len(want[i]))
			continue
		}
		for j := range got {
			if !agree(got[j], want[i][j]) {
				t.Errorf("%s: value %d: dv %.17g, scipy %.17g (rel %.3g)", c.name, j, got[j], want[i][j], math.Abs(got[j]-want[i][j])/math.Abs(want[i][j]))
			}
		}
		if c.Op == "ks2" && max(len(c.A), len(c.B)) <= ksMaxAutoN && KS2Samp(sorted(c.A), sorted(c.B)).Exact {
			exactKS++
		}
	}
	if exactKS < 30 {
		t.Errorf("only %d exact KS p-values compared", exactKS)
	}
}
