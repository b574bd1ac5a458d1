package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Sweden's bounding box: a fix outside it is a receiver error.
const latMin, latMax, lonMin, lonMax = 55.0, 69.1, 10.9, 24.2

// maxOffset is how far (in degrees of latitude, about 1.1 km) a reading
// may lie from its field's median position before it counts as an outlier.
const maxOffset = 0.01

// etlStats says what the ETL dropped and why.
type etlStats struct {
	Rows, Broken, Duplicates, Outliers, FieldSeasons, NoSoil, BadSoil int
}

func (s etlStats) String() string {
	return fmt.Sprintf("gps rows %d: %d broken, %d duplicates, %d GPS outliers dropped; "+
		"%d field-seasons, %d without soil data, %d bad soil rows dropped",
		s.Rows, s.Broken, s.Duplicates, s.Outliers, s.FieldSeasons, s.NoSoil, s.BadSoil)
}

type fieldSeason struct {
	id     string
	season int
}

type reading struct{ lat, lon float64 }

type soilRow struct {
	region, soil        string
	ph, area, sun, rain float64
}

// etl cleans the raw GPS readings (drops broken rows, exact duplicates and
// fixes far from the field), takes each field's median position per
// season, joins the soil survey of its region, and writes one row per
// field and season, sorted.
func etl(gpsPath, soilDir, out string) (etlStats, error) {
	var st etlStats
	pos, err := readGPS(gpsPath, &st)
	if err != nil {
		return st, err
	}
	soil, err := readSoil(soilDir, &st)
	if err != nil {
		return st, err
	}
	keys := make([]fieldSeason, 0, len(pos))
	for k := range pos {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fieldSeason) int {
		if a.season != b.season {
			return a.season - b.season
		}
		return strings.Compare(a.id, b.id)
	})
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return st, err
	}
	f, err := os.Create(out)
	if err != nil {
		return st, err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"field_id", "season", "region", "lat", "lon", "readings", "soil", "ph", "area_ha", "sun_hours", "rain_mm"})
	for _, k := range keys {
		s, ok := soil[k]
		if !ok {
			st.NoSoil++
			continue
		}
		lat, lon, n := center(pos[k], &st)
		if n == 0 {
			continue
		}
		st.FieldSeasons++
		w.Write([]string{k.id, strconv.Itoa(k.season), s.region, ftoa(lat, 5), ftoa(lon, 5), strconv.Itoa(n),
			s.soil, ftoa(s.ph, 1), ftoa(s.area, 1), ftoa(s.sun, 0), ftoa(s.rain, 0)})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return st, fmt.Errorf("%s: %w", out, err)
	}
	return st, nil
}

// readGPS reads the readings, dropping broken rows, duplicates and fixes
// outside Sweden.
func readGPS(path string, st *etlStats) (map[fieldSeason][]reading, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: no header: %w", path, err)
	}
	col := indexOf(head)
	for _, c := range []string{"field_id", "season", "time", "lat", "lon"} {
		if col.get(c) < 0 {
			return nil, fmt.Errorf("%s: no column %q", path, c)
		}
	}
	seen := map[string]bool{}
	out := map[fieldSeason][]reading{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		st.Rows++
		if err != nil || len(rec) != len(head) {
			st.Broken++
			continue
		}
		id, season, lat, lon, ok := parseReading(rec, col)
		if !ok {
			st.Broken++
			continue
		}
		line := strings.Join(rec, ",")
		if seen[line] {
			st.Duplicates++
			continue
		}
		seen[line] = true
		if lat < latMin || lat > latMax || lon < lonMin || lon > lonMax {
			st.Outliers++
			continue
		}
		k := fieldSeason{id, season}
		out[k] = append(out[k], reading{lat, lon})
	}
	return out, nil
}

func parseReading(rec []string, col colIndex) (id string, season int, lat, lon float64, ok bool) {
	id = rec[col["field_id"]]
	season, err1 := strconv.Atoi(rec[col["season"]])
	lat, err2 := strconv.ParseFloat(rec[col["lat"]], 64)
	lon, err3 := strconv.ParseFloat(rec[col["lon"]], 64)
	ok = id != "" && err1 == nil && err2 == nil && err3 == nil && !math.IsNaN(lat) && !math.IsNaN(lon)
	return id, season, lat, lon, ok
}

// center is the median position of a field's readings after dropping
// those more than maxOffset from the first median.
func center(rs []reading, st *etlStats) (lat, lon float64, n int) {
	mlat, mlon := median(rs, func(r reading) float64 { return r.lat }), median(rs, func(r reading) float64 { return r.lon })
	kept := rs[:0:0]
	for _, r := range rs {
		if math.Abs(r.lat-mlat) > maxOffset || math.Abs(r.lon-mlon) > 2*maxOffset {
			st.Outliers++
			continue
		}
		kept = append(kept, r)
	}
	if len(kept) == 0 {
		return 0, 0, 0
	}
	return median(kept, func(r reading) float64 { return r.lat }), median(kept, func(r reading) float64 { return r.lon }), len(kept)
}

func median(rs []reading, f func(reading) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// readSoil reads every REGION.csv of dir; the region is the file's name.
func readSoil(dir string, st *etlStats) (map[fieldSeason]soilRow, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no soil files (REGION.csv)", dir)
	}
	out := map[fieldSeason]soilRow{}
	for _, path := range files {
		rows, err := readCSV(path, "field_id", "season", "soil", "ph", "area_ha", "sun_hours", "rain_mm")
		if err != nil {
			return nil, err
		}
		reg := strings.TrimSuffix(filepath.Base(path), ".csv")
		for _, rec := range rows {
			season, err := strconv.Atoi(rec[1])
			nums, ok := floats(rec[3:])
			if err != nil || !ok || rec[0] == "" || rec[2] == "" {
				st.BadSoil++
				continue
			}
			out[fieldSeason{rec[0], season}] = soilRow{reg, rec[2], nums[0], nums[1], nums[2], nums[3]}
		}
	}
	return out, nil
}

// readCSV returns the named columns of every row, in the order named.
func readCSV(path string, cols ...string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: no header: %w", path, err)
	}
	idx := indexOf(head)
	for _, c := range cols {
		if idx.get(c) < 0 {
			return nil, fmt.Errorf("%s: no column %q", path, c)
		}
	}
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil || len(rec) != len(head) {
			continue
		}
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = rec[idx[c]]
		}
		out = append(out, row)
	}
}

func floats(ss []string) ([]float64, bool) {
	out := make([]float64, len(ss))
	for i, s := range ss {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// indexOf maps a header's names to their columns; missing names give -1.
type colIndex map[string]int

func indexOf(head []string) colIndex {
	m := colIndex{}
	for i, h := range head {
		m[strings.TrimSpace(h)] = i
	}
	return m
}

func (m colIndex) get(name string) int {
	if i, ok := m[name]; ok {
		return i
	}
	return -1
}
