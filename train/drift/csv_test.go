package drift

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func readString(t *testing.T, name, csv string, ref *table) (*table, error) {
	t.Helper()
	b := &budget{limit: DefaultMemoryBudget, sketchK: SketchK}
	if ref != nil {
		b = ref.budget
	}
	tb := newTable(name, ref, nil, b)
	err := readCSV(strings.NewReader(csv), tb, ',')
	return tb, err
}

func TestCSVTypesAndMissing(t *testing.T) {
	tb, err := readString(t, "ref.csv", "a,b,c\n1,x,\n2.5,\"y, z\",NA\n,\"say \"\"hi\"\"\",3\r\n-4e2,\"two\nlines\",nan\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	tb.finish()
	a, b, c := tb.cols["a"], tb.cols["b"], tb.cols["c"]
	if !a.numeric || b.numeric || !c.numeric {
		t.Fatalf("types: a %v b %v c %v, want numeric, categorical, numeric", a.numeric, b.numeric, c.numeric)
	}
	if a.rows != 4 || a.missing != 1 || c.missing != 3 {
		t.Errorf("a rows %d missing %d, c missing %d; want 4, 1, 3", a.rows, a.missing, c.missing)
	}
	if got := a.sorted; len(got) != 3 || got[0] != -400 || got[2] != 2.5 {
		t.Errorf("a values %v", got)
	}
	for _, want := range []string{"x", "y, z", `say "hi"`, "two\nlines"} {
		if b.cats[want] != 1 {
			t.Errorf("b has no %q: %v", want, b.cats)
		}
	}
}

func TestCSVErrors(t *testing.T) {
	ref, err := readString(t, "ref.csv", "n,s\n1,a\n2,b\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, csv, want string }{
		{"empty", "", "cur.csv: empty file (no header row)"},
		{"header only", "n,s\n", "cur.csv: no rows (only a header)"},
		{"ragged", "n,s\n1,a\n2\n", "cur.csv: row 2 (line 3): 1 fields, the header has 2"},
		{"not a number", "n,s\n1,a\nabc,b\n", `cur.csv: row 2 (line 3), column "n": "abc" is not a number (the column is numeric: it is numeric in the reference ref.csv)`},
		{"missing column", "s,x\na,1\n", `cur.csv: no column "n" (the reference ref.csv has it)`},
		{"open quote", "n,s\n1,\"a\n", "cur.csv: line 2: a quoted field is not closed"},
		{"duplicate", "n,n\n1,2\n", `cur.csv: column "n" appears twice in the header`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readString(t, "cur.csv", tc.csv, ref)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
	// A later non-numeric value in a column the first rows made numeric.
	var sb strings.Builder
	sb.WriteString("v\n")
	for range inferRows + 5 {
		sb.WriteString("1\n")
	}
	sb.WriteString("oops\n")
	_, err = readString(t, "ref.csv", sb.String(), nil)
	want := `ref.csv: row 1006 (line 1007), column "v": "oops" is not a number (the column is numeric: every value in its first 1000 rows is a number)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestInfinity: pandas' read_csv reads inf, Inf, -Inf, Infinity (any case,
// either sign) as an infinite number, not as missing; dv drift does not
// leave it out silently but stops on it, naming the file, row and column.
func TestInfinity(t *testing.T) {
	ref, err := readString(t, "ref.csv", "n,s\n1,a\n2,b\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"inf", "Inf", "-Inf", "+inf", "Infinity", "-INFINITY", " inf "} {
		want := fmt.Sprintf(`cur.csv: row 2 (line 3), column "n": %q is infinite (dv drift compares finite numbers; write an empty cell or NA for a missing value)`, v)
		if _, err := readString(t, "cur.csv", "n,s\n1,a\n"+v+",b\n", ref); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", v, err, want)
		}
	}
	// In the reference's first rows too (they make the column numeric, as
	// pandas makes it float64).
	want := `ref.csv: row 3 (line 4), column "x": "-Inf" is infinite (dv drift compares finite numbers; write an empty cell or NA for a missing value)`
	if _, err := readString(t, "ref.csv", "x\n1\n2\n-Inf\n", nil); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// Past the first rows (the parallel reader).
	var sb strings.Builder
	sb.WriteString("v\n")
	for range inferRows + 5 {
		sb.WriteString("1\n")
	}
	sb.WriteString("inf\n")
	want = `ref.csv: row 1006 (line 1007), column "v": "inf" is infinite (dv drift compares finite numbers; write an empty cell or NA for a missing value)`
	if _, err := readString(t, "ref.csv", sb.String(), nil); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// A number too large for a float64 is text to pandas (an object
	// column) and to dv drift (categorical).
	tb, err := readString(t, "ref.csv", "x\n1\n1e999\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tb.cols["x"].numeric {
		t.Error("1e999 made a numeric column")
	}
	// In a categorical column "inf" is a category like any other.
	if _, err := readString(t, "ref.csv", "s\na\ninf\n", nil); err != nil {
		t.Errorf("inf in a categorical column: %v", err)
	}
}

// TestNaNSpellings: pandas' read_csv counts nan, NaN, -nan, -NaN as
// missing and reads other spellings (NAN, Nan, nAn) as text, making the
// column an object column: categorical here too, not numeric with the
// cell silently missing.
func TestNaNSpellings(t *testing.T) {
	for _, v := range []string{"NAN", "Nan", "nAn"} {
		tb, err := readString(t, "ref.csv", "x\n1\n"+v+"\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tb.cols["x"].numeric {
			t.Errorf("%q: the column is numeric, pandas reads it as text", v)
		}
	}
	for _, v := range []string{"nan", "NaN", "-nan", "-NaN"} {
		tb, err := readString(t, "ref.csv", "x\n1\n"+v+"\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		tb.finish()
		if c := tb.cols["x"]; !c.numeric || c.missing != 1 {
			t.Errorf("%q: numeric %v, missing %d; want numeric, 1 missing", v, c.numeric, c.missing)
		}
	}
}

// TestParquetInfinity: an infinite DOUBLE in a Parquet file is the same
// error (pandas' read_parquet keeps it as inf); NaN is missing.
func TestParquetInfinity(t *testing.T) {
	type row struct {
		X float64 `parquet:"x"`
	}
	write := func(vals ...float64) []byte {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[row](&buf)
		for _, v := range vals {
			if _, err := w.Write([]row{{v}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	read := func(b []byte) (*table, error) {
		tb := newTable("ref.parquet", nil, nil, &budget{limit: DefaultMemoryBudget, sketchK: SketchK})
		return tb, readParquet(bytes.NewReader(b), int64(len(b)), tb)
	}
	want := `ref.parquet: row 2, column "x": -Inf is infinite (dv drift compares finite numbers; write a null for a missing value)`
	if _, err := read(write(1, math.Inf(-1), 3)); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	tb, err := read(write(1, math.NaN(), 3))
	if err != nil {
		t.Fatal(err)
	}
	tb.finish()
	if c := tb.cols["x"]; c.missing != 1 {
		t.Errorf("NaN: missing %d, want 1", c.missing)
	}
}

// TestCSVByteOrderMark: a UTF-8 byte order mark before the header (what
// Excel writes) is not part of the first column's name, as pandas reads it.
func TestCSVByteOrderMark(t *testing.T) {
	ref, err := readString(t, "ref.csv", "\ufeffa,b\n1,x\n2,y\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref.names[0] != "a" {
		t.Fatalf("first column %q, want \"a\"", ref.names[0])
	}
	if _, err := readString(t, "cur.csv", "\ufeffa,b\n3,x\n", ref); err != nil {
		t.Fatalf("current with a BOM: %v", err)
	}
	if _, err := readString(t, "cur.csv", "a,b\n3,x\n", ref); err != nil {
		t.Fatalf("current without a BOM: %v", err)
	}
	// Only at the very start: a BOM-like cell later is data.
	tb, err := readString(t, "ref.csv", "s\n\ufeffx\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	tb.finish()
	if tb.cols["s"].cats["\ufeffx"] != 1 {
		t.Errorf("a later U+FEFF was dropped: %v", tb.cols["s"].cats)
	}
}

func TestSketchErrorBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 300000
	s := NewSketch(256)
	other := NewSketch(256) // merged in: the bound holds for merged sketches too
	vals := make([]float64, 0, n)
	for i := range n {
		x := r.NormFloat64()*3 + math.Floor(r.Float64()*4) // ties and a lumpy shape
		vals = append(vals, x)
		if i%3 == 0 {
			other.Add(x)
		} else {
			s.Add(x)
		}
	}
	s.Merge(other)
	if s.N() != n {
		t.Fatalf("N %d", s.N())
	}
	eps := s.ErrorBound()
	if eps <= 0 || eps > 0.1 {
		t.Fatalf("bound %g", eps)
	}
	sorted := sorted(vals)
	worst := 0.0
	for q := 0.0; q <= 1; q += 0.001 {
		x := sorted[min(int(q*n), n-1)]
		true_ := float64(upperBound(sorted, x))
		worst = math.Max(worst, math.Abs(s.Rank(x)-true_)/n)
	}
	if worst > eps {
		t.Errorf("rank error %g exceeds the documented bound %g", worst, eps)
	}
	t.Logf("levels %d, bound %g, worst rank error seen %g", len(s.levels), eps, worst)
	// The KS statistic from sketches is within the sum of the bounds.
	sa, sb := NewSketch(256), NewSketch(256)
	for _, x := range vals[:n/2] {
		sa.Add(x)
	}
	for _, x := range vals[n/2:] {
		sb.Add(x)
	}
	exact := KS2Samp(sortedCopy(vals[:n/2]), sortedCopy(vals[n/2:])).D
	approx := ksStatW(sa.Items(), sb.Items(), float64(n/2), float64(n-n/2))
	if d := math.Abs(exact - approx); d > sa.ErrorBound()+sb.ErrorBound() {
		t.Errorf("KS from sketches %g, exact %g: off by %g, more than the bound %g", approx, exact, d, sa.ErrorBound()+sb.ErrorBound())
	}
}

func sortedCopy(x []float64) []float64 { return sorted(x) }

// TestBudgetSwitch: past the budget the check goes on with sketches and
// says so.
func TestBudgetSwitch(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("x,c\n")
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		sb.WriteString(strconv.FormatFloat(r.NormFloat64(), 'f', 6, 64) + ",k\n")
	}
	b := &budget{limit: 1 << 20, sketchK: 1024}
	ref := newTable("ref.csv", nil, nil, b)
	if err := readCSV(strings.NewReader(sb.String()), ref, ','); err != nil {
		t.Fatal(err)
	}
	cur := newTable("cur.csv", ref, nil, b)
	if err := readCSV(strings.NewReader(sb.String()), cur, ','); err != nil {
		t.Fatal(err)
	}
	ref.finish()
	cur.finish()
	if ref.cols["x"].sketch == nil || cur.cols["x"].sketch == nil {
		t.Fatal("no sketch past the budget")
	}
	res, err := testColumn(ref.cols["x"], cur.cols["x"], MethodWasserstein, math.NaN())
	if err != nil {
		t.Fatal(err)
	}
	if res.ErrorBound <= 0 || res.Drift || float64(res.Statistic) > 0.01 {
		t.Errorf("same data through sketches: %+v", res)
	}
}
