package main

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// The economics of a field, in SEK per hectare: a grade-q crop sells for
// price*q, and planting costs cost whatever the grade. Break-even is a
// grade of cost/price = 5.5.
const (
	price     = 2000.0
	cost      = 11000.0
	breakEven = cost / price
)

var numericFeatures = []string{"lat", "lon", "ph", "area_ha", "sun_hours", "rain_mm"}

func featureNames() []string {
	out := append([]string{}, numericFeatures...)
	for _, s := range soils {
		out = append(out, "soil="+s)
	}
	return out
}

// example is one labelled field-season.
type example struct {
	id     string
	season int
	soil   string
	area   float64
	x      []float64
	grade  float64
}

// load joins the curated fields with the inspection grades on field and
// season; fields without a grade are not examples. season > 0 keeps only
// that season.
func load(dataPath, labelsPath string, season int) ([]example, error) {
	cols := append([]string{"field_id", "season", "soil"}, numericFeatures...)
	rows, err := readCSV(dataPath, cols...)
	if err != nil {
		return nil, err
	}
	labels, err := readCSV(labelsPath, "field_id", "season", "grade")
	if err != nil {
		return nil, err
	}
	grade := map[fieldSeason]float64{}
	for _, l := range labels {
		s, err1 := strconv.Atoi(l[1])
		g, err2 := strconv.ParseFloat(l[2], 64)
		if err1 == nil && err2 == nil {
			grade[fieldSeason{l[0], s}] = g
		}
	}
	var out []example
	for line, r := range rows {
		s, err := strconv.Atoi(r[1])
		nums, ok := floats(r[3:])
		if err != nil || !ok {
			return nil, fmt.Errorf("%s: row %d: not a number in %v", dataPath, line+2, r)
		}
		g, ok := grade[fieldSeason{r[0], s}]
		if !ok || season > 0 && s != season {
			continue
		}
		out = append(out, example{id: r[0], season: s, soil: r[2], area: nums[3], x: features(nums, r[2]), grade: g})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no field has a grade in %s", dataPath, labelsPath)
	}
	return out, nil
}

func features(nums []float64, soil string) []float64 {
	x := append(make([]float64, 0, len(numericFeatures)+len(soils)), nums...)
	for _, s := range soils {
		x = append(x, b2f(s == soil))
	}
	return x
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// isTest puts a quarter of the fields (all their seasons) in the test set.
func isTest(id string) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return h.Sum32()%4 == 0
}

// sample keeps the fields whose hash falls below share: the fields
// inspected so far, say. A larger share keeps a superset.
func sample(es []example, share float64) []example {
	if share >= 1 {
		return es
	}
	var out []example
	for _, e := range es {
		h := fnv.New32a()
		h.Write([]byte("sample:" + e.id))
		if float64(h.Sum32())/(1<<32) < share {
			out = append(out, e)
		}
	}
	return out
}

// modelFile is what the trainer writes and eval reads.
type modelFile struct {
	Model    string      `json:"model"`
	Features []string    `json:"features"`
	Params   boostParams `json:"params"`
	Rows     int         `json:"rows"`
	Booster  *booster    `json:"booster"`
}

// metrics is the metrics file, in the form dv promote reads: overall
// values, the business KPI, and the same per soil type as slices.
type metrics struct {
	RMSE         float64          `json:"rmse"`
	MAE          float64          `json:"mae"`
	R2           float64          `json:"r2"`
	Revenue      float64          `json:"revenue_per_ha"` // advised minus plant-all
	Advised      float64          `json:"revenue_per_ha_advised"`
	RevenueAll   float64          `json:"revenue_per_ha_plant_all"`
	PlantedShare float64          `json:"planted_share"`
	RowsTrain    int              `json:"rows_train"`
	RowsTest     int              `json:"rows_test"`
	Slices       map[string]slice `json:"slices"`
	BaselineRMSE float64          `json:"baseline_rmse"` // the mean predictor's
}

type slice struct {
	RMSE float64 `json:"rmse"`
	Rows int     `json:"rows"`
}

// trainModel fits the booster on the training fields and evaluates it on
// the test fields.
func trainModel(data []example, p boostParams) (*modelFile, *metrics) {
	var X [][]float64
	var y []float64
	var test []example
	for _, e := range data {
		if isTest(e.id) {
			test = append(test, e)
		} else {
			X = append(X, e.x)
			y = append(y, e.grade)
		}
	}
	b := fit(X, y, len(featureNames()), p)
	mf := &modelFile{Model: "crop-quality gradient-boosted trees", Features: featureNames(), Params: p, Rows: len(X), Booster: b}
	m := evaluate(b, test)
	m.RowsTrain = len(X)
	m.BaselineRMSE = round4(rmseOf(test, func(example) float64 { return b.Base }))
	return mf, m
}

func rmseOf(es []example, pred func(example) float64) float64 {
	se := 0.0
	for _, e := range es {
		d := pred(e) - e.grade
		se += d * d
	}
	return math.Sqrt(se / float64(max(len(es), 1)))
}

// evaluate scores the model on es: errors overall and per soil type, and
// the revenue per hectare when only the fields the model grades at or
// above break-even are planted, against planting every field.
func evaluate(b *booster, es []example) *metrics {
	m := &metrics{RowsTest: len(es), Slices: map[string]slice{}}
	type acc struct {
		se float64
		n  int
	}
	per := map[string]*acc{}
	var se, ae, sum, sum2, area, revAdvised, revAll, planted float64
	for _, e := range es {
		p := b.predict(e.x)
		d := p - e.grade
		se += d * d
		ae += math.Abs(d)
		sum += e.grade
		sum2 += e.grade * e.grade
		a := per[e.soil]
		if a == nil {
			a = &acc{}
			per[e.soil] = a
		}
		a.se += d * d
		a.n++
		profit := price*e.grade - cost
		area += e.area
		revAll += e.area * profit
		if p >= breakEven {
			revAdvised += e.area * profit
			planted += e.area
		}
	}
	n := float64(max(len(es), 1))
	m.RMSE = round4(math.Sqrt(se / n))
	m.MAE = round4(ae / n)
	if v := sum2/n - (sum/n)*(sum/n); v > 0 {
		m.R2 = round4(1 - se/n/v)
	}
	if area > 0 {
		m.Advised = math.Round(revAdvised / area)
		m.RevenueAll = math.Round(revAll / area)
		m.Revenue = m.Advised - m.RevenueAll
		m.PlantedShare = round4(planted / area)
	}
	for s, a := range per {
		m.Slices["soil="+s] = slice{RMSE: round4(math.Sqrt(a.se / float64(a.n))), Rows: a.n}
	}
	return m
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func writeJSON(path string, v any) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readModel(path string) (*modelFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var mf modelFile
	if err := json.Unmarshal(b, &mf); err != nil || mf.Booster == nil {
		return nil, fmt.Errorf("%s: not a crop model: %v", path, err)
	}
	if len(mf.Features) != len(featureNames()) {
		return nil, fmt.Errorf("%s: model has %d features, this program %d", path, len(mf.Features), len(featureNames()))
	}
	return &mf, nil
}

// sliceNames returns the slice keys in order.
func sliceNames(m *metrics) []string {
	out := make([]string, 0, len(m.Slices))
	for k := range m.Slices {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
