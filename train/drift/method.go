package drift

import (
	"fmt"
	"math"
	"slices"

	"github.com/dv-ml/dv/lineage"
)

// Methods.
const (
	MethodAuto          = "auto"
	MethodKS            = "ks"
	MethodChiSquare     = "chisquare"
	MethodZTest         = "ztest"
	MethodWasserstein   = "wasserstein"
	MethodJensenShannon = "jensenshannon"
	MethodPSI           = "psi"
)

// Methods lists the methods --method and dv.yaml accept.
var Methods = []string{MethodAuto, MethodKS, MethodChiSquare, MethodZTest, MethodWasserstein, MethodJensenShannon, MethodPSI}

// isTest reports whether a method's score is a p-value (drift when it
// is small) rather than a distance (drift when it is large).
func isTest(m string) bool { return m == MethodKS || m == MethodChiSquare || m == MethodZTest }

// DefaultThreshold is the threshold of a method when none is given:
// 0.05 for the p-value of a test, 0.1 for a distance.
func DefaultThreshold(m string) float64 {
	if isTest(m) {
		return 0.05
	}
	return 0.1
}

// AutoMethod is the default algorithm (Evidently's): with n_ref the
// reference's values and k the distinct values of both samples,
//
//   - n_ref ≤ 1000: ks for a numeric column with k > 5; else chisquare
//     when k > 2, ztest when k ≤ 2;
//   - n_ref > 1000: wasserstein for a numeric column with k > 5; else
//     jensenshannon.
func AutoMethod(numeric bool, nRef int64, k int) string {
	many := numeric && k > 5
	switch {
	case nRef <= 1000 && many:
		return MethodKS
	case nRef <= 1000 && k > 2:
		return MethodChiSquare
	case nRef <= 1000:
		return MethodZTest
	case many:
		return MethodWasserstein
	}
	return MethodJensenShannon
}

// unionDistinct is k, the distinct values of both columns (capped past
// maxTracked for numeric columns).
func unionDistinct(ref, cur *column) int {
	if ref.numeric && (ref.distinct == nil || cur.distinct == nil) {
		return maxTracked + 1
	}
	rc, cc := ref.counts(), cur.counts()
	n := len(rc)
	for k := range cc {
		if _, ok := rc[k]; !ok {
			n++
		}
	}
	return n
}

// testColumn runs method on one column.
func testColumn(ref, cur *column, method string, threshold float64) (lineage.DriftColumn, error) {
	res := lineage.DriftColumn{
		Column: ref.name, Type: Categorical, RefRows: ref.rows, CurRows: cur.rows,
		RefMissing: ref.missing, CurMissing: cur.missing, Threshold: threshold,
	}
	if ref.numeric {
		res.Type = Numeric
	}
	nr, nc := ref.values(), cur.values()
	switch {
	case nr == 0:
		return res, fmt.Errorf("column %q: no values in the reference (all %d missing)", ref.name, ref.rows)
	case nc == 0:
		return res, fmt.Errorf("column %q: no values in the current data (all %d missing)", ref.name, cur.rows)
	}
	k := unionDistinct(ref, cur)
	if method == MethodAuto {
		method = AutoMethod(ref.numeric, nr, k)
	}
	res.Method = method
	if math.IsNaN(threshold) {
		threshold = DefaultThreshold(method)
		res.Threshold = threshold
	}
	approx := ref.sketch != nil || cur.sketch != nil
	if approx {
		res.ErrorBound = ref.errorBound() + cur.errorBound()
	}
	var stat, score float64
	switch method {
	case MethodKS, MethodWasserstein:
		if !ref.numeric {
			return res, fmt.Errorf("column %q: %s needs a numeric column (this one is categorical)", ref.name, method)
		}
		if method == MethodKS {
			var p float64
			if approx {
				stat = ksStatW(ref.weighted(), cur.weighted(), float64(nr), float64(nc))
				p, _ = ksPValue(int(nr), int(nc), stat)
			} else {
				r := KS2Samp(ref.sorted, cur.sorted)
				stat, p = r.D, r.P
			}
			score = p
		} else {
			if approx {
				stat = wassersteinW(ref.weighted(), cur.weighted(), float64(nr), float64(nc)) / math.Max(ref.std(), 0.001)
			} else {
				stat = NormedWasserstein(ref.sorted, cur.sorted, ref.std())
			}
			score = stat
		}
	case MethodChiSquare, MethodZTest:
		if ref.numeric && k > maxTracked {
			return res, fmt.Errorf("column %q: more than %d distinct values: %s compares categories (use ks or wasserstein)", ref.name, maxTracked, method)
		}
		keys, rc, cc := categoryCounts(ref.counts(), cur.counts())
		if method == MethodChiSquare {
			var p float64
			stat, p = ChiSquare(cc, ExpectedCounts(rc, float64(nr), float64(nc)))
			score = p
		} else {
			if len(keys) > 2 {
				return res, fmt.Errorf("column %q: ztest compares two categories, this column has %d (use chisquare)", ref.name, len(keys))
			}
			p := 1.0
			if len(keys) == 2 {
				stat, p = ZTest(rc[0], float64(nr), cc[0], float64(nc))
			}
			score = p
		}
	case MethodJensenShannon, MethodPSI:
		var r, c []float64
		if ref.numeric && ref.distinctCount() > 20 {
			r, c = binShares(ref, cur)
		} else {
			if ref.numeric && k > maxTracked {
				r, c = binShares(ref, cur)
			} else {
				_, r, c = CategoryShares(ref.counts(), cur.counts())
			}
		}
		if method == MethodJensenShannon {
			stat = JensenShannon(r, c)
		} else {
			stat = PSI(r, c)
		}
		score = stat
	default:
		return res, fmt.Errorf("unknown method %q (known: %v)", method, Methods)
	}
	res.Statistic, res.Score = lineage.Number(stat), lineage.Number(score)
	if isTest(method) {
		p := lineage.Number(score)
		res.PValue = &p
		res.Drift = method == MethodKS && score <= threshold || method != MethodKS && score < threshold
	} else {
		res.Drift = score >= threshold
	}
	return res, nil
}

// binShares are the Sturges-bin shares of two numeric columns.
func binShares(ref, cur *column) (r, c []float64) {
	if ref.sketch == nil && cur.sketch == nil {
		return BinShares(ref.sorted, cur.sorted)
	}
	rlo, rhi := ref.bounds()
	clo, chi := cur.bounds()
	edges := SturgesEdges(math.Min(rlo, clo), math.Max(rhi, chi), int(ref.values()+cur.values()))
	r = divide(histogramW(ref.weighted(), edges), float64(ref.values()))
	c = divide(histogramW(cur.weighted(), edges), float64(cur.values()))
	return r, c
}

// categoryCounts are the counts of each value of both samples, over the
// values in byte order.
func categoryCounts(ref, cur map[string]int64) (keys []string, r, c []float64) {
	seen := map[string]bool{}
	for k := range ref {
		seen[k] = true
	}
	for k := range cur {
		seen[k] = true
	}
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r, c = make([]float64, len(keys)), make([]float64, len(keys))
	for i, k := range keys {
		r[i], c[i] = float64(ref[k]), float64(cur[k])
	}
	return keys, r, c
}
