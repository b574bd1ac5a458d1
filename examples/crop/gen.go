package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// A region of Sweden: a bounding box of farmland, its soil mix and its
// usual weather over a growing season.
type region struct {
	name                   string
	lat0, lat1, lon0, lon1 float64
	mix                    []share // soil types of the region's fields
	sun, rain              float64 // sun hours and rain (mm) in a normal season
}

type share struct {
	soil string
	p    float64
}

var regions = []region{
	{"skane", 55.45, 56.25, 12.95, 14.25, mix(.42, .33, .13, .12, 0), 1750, 560},
	{"halland", 56.55, 57.25, 12.35, 12.95, mix(.12, .28, .42, .18, 0), 1700, 760},
	{"vastra-gotaland", 57.95, 58.55, 12.25, 13.75, mix(.38, .27, .15, .20, 0), 1600, 690},
	{"ostergotland", 58.15, 58.60, 15.05, 16.25, mix(.48, .28, .10, .14, 0), 1650, 520},
	{"uppland", 59.65, 60.25, 17.05, 18.25, mix(.52, .18, .10, .20, 0), 1600, 540},
	{"gotland", 57.15, 57.85, 18.15, 18.85, mix(.20, .38, .28, .14, 0), 1900, 480},
}

// newMix is the soil mix of the fields taken up from season 2 on: drained
// wetland and heavy clay (the farm cooperative grew into the lowlands).
var newMix = mix(.45, .12, .05, .10, .28)

var soils = []string{"clay", "loam", "sand", "silt", "peat"}

func mix(ps ...float64) []share {
	out := make([]share, len(ps))
	for i, p := range ps {
		out[i] = share{soils[i], p}
	}
	return out
}

// Per soil type: base quality, the rain (mm) it does best with, and how
// much too much or too little rain costs. Clay drowns in a wet season,
// sand and silt thrive on it.
var soilTruth = map[string]struct{ base, optRain, rainCost float64 }{
	"clay": {6.6, 470, 0.55},
	"loam": {7.0, 600, 0.30},
	"sand": {5.4, 820, 0.35},
	"silt": {6.2, 900, 0.60},
	"peat": {5.6, 560, 0.45},
}

// field is one field of the cooperative.
type field struct {
	id       string
	reg      *region
	lat, lon float64
	area     float64
	soil     string
	ph       float64
	effect   float64 // what no column explains (drainage, the farmer)
	from     int     // first season it was farmed
}

// season weather: season 2 is a wet, grey year.
func seasonRain(s int) float64 { return []float64{1, 1, 1.42, 1.15, 1.05}[min(s, 4)] }
func seasonSun(s int) float64  { return []float64{1, 1, 0.93, 0.98, 1.0}[min(s, 4)] }

// genOptions are the generator's knobs.
type genOptions struct {
	Seed    uint64
	Seasons int // write the export as of the end of this season (1-based)
	Fields  int // fields farmed in season 1
	New     int // fields added in each later season
}

// world is everything the generator knows, including the truth no export
// shows.
type world struct {
	o      genOptions
	rng    *rand.Rand
	fields []*field
}

func newWorld(o genOptions) *world {
	w := &world{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed_c20b))}
	w.addFields(o.Fields, 1)
	return w
}

func (w *world) addFields(n, season int) {
	for range n {
		reg := &regions[w.rng.IntN(len(regions))]
		m := reg.mix
		if season > 1 {
			m = newMix
		}
		f := &field{
			id:     fmt.Sprintf("SE-%s-%05d", reg.name[:3], len(w.fields)+1),
			reg:    reg,
			lat:    reg.lat0 + w.rng.Float64()*(reg.lat1-reg.lat0),
			lon:    reg.lon0 + w.rng.Float64()*(reg.lon1-reg.lon0),
			area:   math.Round(math.Exp(2.2+0.6*w.rng.NormFloat64())*10) / 10,
			soil:   pick(w.rng, m),
			effect: 0.35 * w.rng.NormFloat64(),
			from:   season,
		}
		f.area = max(f.area, 0.8)
		f.ph = math.Round((6.3+0.5*w.rng.NormFloat64())*10) / 10
		if f.soil == "peat" { // acid, and only as good as it is limed
			f.ph = math.Round((5.2+0.6*w.rng.NormFloat64())*10) / 10
		}
		w.fields = append(w.fields, f)
	}
}

func pick(rng *rand.Rand, m []share) string {
	x, sum := rng.Float64(), 0.0
	for _, s := range m {
		sum += s.p
		if x < sum {
			return s.soil
		}
	}
	return m[0].soil
}

// quality is the true grade of a field in a season, before the
// inspector's error.
func quality(f *field, season int, sun, rain float64) float64 {
	t := soilTruth[f.soil]
	d := (rain - t.optRain) / 100
	q := t.base + 0.0035*(sun-1650) - t.rainCost*d*d*0.5 - 0.35*(f.lat-56.5) + f.effect
	if f.soil == "peat" {
		q += 1.3 * (f.ph - 5.2)
	} else {
		q += 0.4 * (f.ph - 6.3)
	}
	if f.soil == "silt" && rain > 700 {
		q += 0.6 // silt holds water where other soils flood
	}
	return q
}

// gen writes the raw exports as of the end of season o.Seasons into dir:
// gps.csv (tractor GPS readings of every season so far), soil/REGION.csv
// (the soil survey and the season's weather per field) and grades.csv
// (quality grades from field inspections: the labels).
func gen(o genOptions, dir string) (map[string]int, error) {
	w := newWorld(o)
	if err := os.MkdirAll(filepath.Join(dir, "soil"), 0o755); err != nil {
		return nil, err
	}
	gps, err := newCSV(filepath.Join(dir, "gps.csv"), "field_id,season,time,lat,lon,device,hdop")
	if err != nil {
		return nil, err
	}
	grades, err := newCSV(filepath.Join(dir, "grades.csv"), "field_id,season,grade,inspector,inspected_on")
	if err != nil {
		return nil, err
	}
	soilFiles := map[string]*csvFile{}
	for _, r := range regions {
		f, err := newCSV(filepath.Join(dir, "soil", r.name+".csv"), "field_id,season,soil,ph,area_ha,sun_hours,rain_mm")
		if err != nil {
			return nil, err
		}
		soilFiles[r.name] = f
	}
	for s := 1; s <= o.Seasons; s++ {
		if s > 1 {
			w.addFields(o.New, s)
		}
		w.season(s, gps, grades, soilFiles)
	}
	counts := map[string]int{"fields": len(w.fields), "gps": gps.rows, "grades": grades.rows}
	all := append([]*csvFile{gps, grades}, mapValues(soilFiles)...)
	for _, f := range all {
		if err := f.close(); err != nil {
			return nil, err
		}
		if f != gps && f != grades {
			counts["soil"] += f.rows
		}
	}
	return counts, nil
}

func mapValues(m map[string]*csvFile) []*csvFile {
	out := make([]*csvFile, 0, len(m))
	for _, r := range regions {
		out = append(out, m[r.name])
	}
	return out
}

// season writes one season's rows. The rng is drawn from in a fixed
// order, so an export up to season 2 repeats the rows of season 1 exactly.
func (w *world) season(s int, gps, grades *csvFile, soil map[string]*csvFile) {
	rng := w.rng
	year := 2024 + s
	regRain := map[string]float64{}
	for _, r := range regions {
		regRain[r.name] = r.rain * seasonRain(s) * (1 + 0.06*rng.NormFloat64())
	}
	for _, f := range w.fields {
		sun := math.Round(f.reg.sun * seasonSun(s) * (1 + 0.03*rng.NormFloat64()))
		rain := math.Round(regRain[f.reg.name] * (1 + 0.12*rng.NormFloat64()))
		soil[f.reg.name].row(f.id, s, f.soil, ftoa(f.ph, 1), ftoa(f.area, 1), ftoa(sun, 0), ftoa(rain, 0))
		if rng.Float64() < 0.004 { // a survey row with a hole in it
			soil[f.reg.name].row(f.id, s, "", ftoa(f.ph, 1), "", "", "")
		}
		// GPS: a few passes of a tractor over the field.
		n := 3 + rng.IntN(4)
		for k := range n {
			lat := f.lat + 0.0003*rng.NormFloat64()
			lon := f.lon + 0.0005*rng.NormFloat64()
			switch x := rng.Float64(); {
			case x < 0.006: // a receiver cold start: (0, 0)
				lat, lon = 0, 0
			case x < 0.015: // a multipath jump tens of km away
				lat += 0.3 + rng.Float64()
				lon -= 0.5 + rng.Float64()
			}
			t := fmt.Sprintf("%d-%02d-%02dT%02d:%02d:00Z", year, 4+k, 1+rng.IntN(28), 6+rng.IntN(12), rng.IntN(60))
			dev := fmt.Sprintf("tractor-%02d", 1+rng.IntN(24))
			hdop := ftoa(0.6+rng.ExpFloat64()*0.4, 1)
			cells := []any{f.id, s, t, ftoa(lat, 6), ftoa(lon, 6), dev, hdop}
			gps.row(cells...)
			if rng.Float64() < 0.02 { // the logger sent it twice
				gps.row(cells...)
			}
			if rng.Float64() < 0.003 {
				gps.broken(rng, cells)
			}
		}
		// Inspection: 96 % of fields are graded, to one decimal.
		if rng.Float64() < 0.96 {
			q := quality(f, s, sun, rain) + 0.45*rng.NormFloat64()
			q = math.Round(min(10, max(0, q))*10) / 10
			grades.row(f.id, s, ftoa(q, 1), fmt.Sprintf("inspector-%d", 1+rng.IntN(9)),
				fmt.Sprintf("%d-09-%02d", year, 1+rng.IntN(28)))
		}
	}
}

func ftoa(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }

// csvFile writes rows; cells are simple enough to need no quoting.
type csvFile struct {
	f    *os.File
	b    *bufio.Writer
	rows int
}

func newCSV(path, header string) (*csvFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	c := &csvFile{f: f, b: bufio.NewWriterSize(f, 1<<16)}
	c.b.WriteString(header + "\n")
	return c, nil
}

func (c *csvFile) row(cells ...any) {
	for i, x := range cells {
		if i > 0 {
			c.b.WriteByte(',')
		}
		switch v := x.(type) {
		case string:
			c.b.WriteString(v)
		case int:
			c.b.WriteString(strconv.Itoa(v))
		default:
			fmt.Fprint(c.b, v)
		}
	}
	c.b.WriteByte('\n')
	c.rows++
}

// broken writes one of the ways a logger's row goes wrong.
func (c *csvFile) broken(rng *rand.Rand, cells []any) {
	switch rng.IntN(4) {
	case 0: // cut off mid-row
		c.b.WriteString(fmt.Sprintf("%v,%v,%v,%v\n", cells[0], cells[1], cells[2], cells[3]))
	case 1: // no fix
		c.row(cells[0], cells[1], cells[2], "NaN", "NaN", cells[5], cells[6])
		return
	case 2: // line noise
		c.b.WriteString("\x00\x00#ERR checksum\n")
	case 3: // empty field id
		c.row("", cells[1], cells[2], cells[3], cells[4], cells[5], cells[6])
		return
	}
	c.rows++
}

func (c *csvFile) close() error {
	if err := c.b.Flush(); err != nil {
		c.f.Close()
		return err
	}
	return c.f.Close()
}
