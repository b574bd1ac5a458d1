package testscripts

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/rogpeppe/go-internal/testscript"
)

// driftRow is one row of the tables driftdata writes.
type driftRow struct {
	Age    int64   `parquet:"age"`
	Income float64 `parquet:"income"`
	City   string  `parquet:"city"`
	Plan   string  `parquet:"plan"`
	Score  float64 `parquet:"score"`
}

// cmdDriftdata writes a deterministic table for dv drift:
//
//	driftdata FILE ROWS SEED [shifted]
//
// with columns age (integers 18-79), income (normal, mean 50, sd 10),
// city (a, b, c, d in equal shares), plan (basic 50 %, pro 30 %, max
// 20 %) and score (normal 0, 1). Category shares are exact (cycled, then
// shuffled), so equal-distribution tables have equal shares. "shifted"
// moves income's mean to 58, adds city zz (a fifth of the rows) and turns
// the plan mix to 20/30/50; age and score do not move. FILE ending in
// .parquet is written as Parquet, else CSV.
func cmdDriftdata(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: driftdata FILE ROWS SEED [shifted]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	seed, err := strconv.ParseUint(args[2], 10, 64)
	ts.Check(err)
	shifted := len(args) == 4 && args[3] == "shifted"
	rng := rand.New(rand.NewPCG(seed, 7))
	cities := cycle(n, map[string]int{"a": 25, "b": 25, "c": 25, "d": 25})
	plans := cycle(n, map[string]int{"basic": 50, "pro": 30, "max": 20})
	income := 50.0
	if shifted {
		cities = cycle(n, map[string]int{"a": 20, "b": 20, "c": 20, "d": 20, "zz": 20})
		plans = cycle(n, map[string]int{"basic": 20, "pro": 30, "max": 50})
		income = 58
	}
	rng.Shuffle(n, func(i, j int) { cities[i], cities[j] = cities[j], cities[i] })
	rng.Shuffle(n, func(i, j int) { plans[i], plans[j] = plans[j], plans[i] })
	rows := make([]driftRow, n)
	for i := range rows {
		rows[i] = driftRow{Age: 18 + rng.Int64N(62), Income: income + 10*rng.NormFloat64(),
			City: cities[i], Plan: plans[i], Score: rng.NormFloat64()}
	}
	path := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
	if strings.HasSuffix(path, ".parquet") {
		f, err := os.Create(path)
		ts.Check(err)
		w := parquet.NewGenericWriter[driftRow](f)
		_, err = w.Write(rows)
		ts.Check(err)
		ts.Check(w.Close())
		ts.Check(f.Close())
		return
	}
	f, err := os.Create(path)
	ts.Check(err)
	bw := bufio.NewWriter(f)
	fmt.Fprintln(bw, "age,income,city,plan,score")
	for _, r := range rows {
		fmt.Fprintf(bw, "%d,%.3f,%s,%s,%.4f\n", r.Age, r.Income, r.City, r.Plan, r.Score)
	}
	ts.Check(bw.Flush())
	ts.Check(f.Close())
}

// cycle returns n values with the given percentage shares, in order.
func cycle(n int, shares map[string]int) []string {
	keys := make([]string, 0, len(shares))
	for k := range shares {
		keys = append(keys, k)
	}
	// Sorted for determinism.
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	var pattern []string
	for _, k := range keys {
		for range shares[k] {
			pattern = append(pattern, k)
		}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = pattern[i%len(pattern)]
	}
	return out
}
