// Command crop is the worked example of dv: predict the quality grade of a
// field's crop from its GPS position joined with soil and weather data, to
// decide which fields to plant. It needs nothing but Go's standard library.
//
//	crop gen   -seed 7 -seasons 2 -o DIR     raw exports: gps.csv, soil/REGION.csv, grades.csv
//	crop etl   -gps F -soil DIR -o OUT       clean and join into one row per field and season
//	crop train -data F -labels F -model OUT -metrics OUT [-rounds N -lr X -depth D -min-leaf N]
//	crop eval  -model F -data F -labels F [-season N] [-share X]   metrics as k=v, for dv metrics log
//
// The trainer's knobs also come from dv train's params (DV_PARAM_ROUNDS,
// DV_PARAM_LR, DV_PARAM_DEPTH, DV_PARAM_MIN_LEAF); a flag wins over its
// param. examples/crop/run.sh tells the whole story with dv.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "crop:", err)
		os.Exit(1)
	}
}

const usage = "usage: crop gen|etl|train|eval [flags] (crop CMD -h for flags)"

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	fs := flag.NewFlagSet("crop "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "gen":
		var o genOptions
		fs.Uint64Var(&o.Seed, "seed", 7, "random seed")
		fs.IntVar(&o.Seasons, "seasons", 1, "write the exports as of the end of this season")
		fs.IntVar(&o.Fields, "fields", 8000, "fields farmed in season 1")
		fs.IntVar(&o.New, "new", 5000, "fields taken up in each later season")
		out := fs.String("o", "", "output `DIR`")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *out == "" || o.Seasons < 1 {
			return fmt.Errorf("gen needs -o DIR and -seasons >= 1")
		}
		start := time.Now()
		c, err := gen(o, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "season %d export: %d fields, %d GPS rows, %d soil rows, %d grades in %s\n",
			o.Seasons, c["fields"], c["gps"], c["soil"], c["grades"], time.Since(start).Round(time.Millisecond))
		return nil
	case "etl":
		gps := fs.String("gps", "raw/gps.csv", "raw GPS readings `FILE`")
		soil := fs.String("soil", "raw/soil", "soil survey `DIR` (one REGION.csv per region)")
		out := fs.String("o", "curated/fields.csv", "curated output `FILE`")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		st, err := etl(*gps, *soil, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "etl: %s\n", st)
		return nil
	case "train", "eval":
		return trainOrEval(fs, args, stdout)
	}
	return fmt.Errorf("unknown command %q; %s", args[0], usage)
}

func trainOrEval(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	data := fs.String("data", "curated/fields.csv", "curated `FILE`")
	labels := fs.String("labels", "labels/grades.csv", "grades `FILE`")
	model := fs.String("model", "model/crop.json", "model `FILE`")
	metricsOut := fs.String("metrics", "metrics.json", "metrics `FILE` (train)")
	season := fs.Int("season", 0, "only this season (eval; 0: all)")
	share := fs.Float64("share", 1, "eval: only this share of the fields (the same ones for a share, growing with it)")
	p := defaultParams()
	var err error
	p.Rounds, err = envInt("rounds", p.Rounds)
	if err == nil {
		p.Depth, err = envInt("depth", p.Depth)
	}
	if err == nil {
		p.MinLeaf, err = envInt("min_leaf", p.MinLeaf)
	}
	if err == nil {
		p.LR, err = envFloat("lr", p.LR)
	}
	if err != nil {
		return err
	}
	fs.IntVar(&p.Rounds, "rounds", p.Rounds, "boosting rounds")
	fs.Float64Var(&p.LR, "lr", p.LR, "learning rate")
	fs.IntVar(&p.Depth, "depth", p.Depth, "tree depth")
	fs.IntVar(&p.MinLeaf, "min-leaf", p.MinLeaf, "fewest training rows in a leaf")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if p.Rounds < 1 || p.Depth < 1 || p.MinLeaf < 1 || p.LR <= 0 || p.LR > 1 {
		return fmt.Errorf("want rounds >= 1, depth >= 1, min_leaf >= 1 and 0 < lr <= 1, got %+v", p)
	}
	es, err := load(*data, *labels, *season)
	if err != nil {
		return err
	}
	if args[0] == "eval" {
		mf, err := readModel(*model)
		if err != nil {
			return err
		}
		m := evaluate(mf.Booster, sample(es, *share))
		fmt.Fprintf(stdout, "rmse=%g revenue_per_ha=%g rows=%d\n", m.RMSE, m.Revenue, m.RowsTest)
		return nil
	}
	start := time.Now()
	mf, m := trainModel(es, p)
	if err := writeJSON(*model, mf); err != nil {
		return err
	}
	if err := writeJSON(*metricsOut, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained on %d fields, tested on %d in %s: rmse %.3f (mean predictor %.3f); "+
		"planting by advice earns %+.0f SEK/ha against planting every field (%.0f against %.0f)\n",
		m.RowsTrain, m.RowsTest, time.Since(start).Round(time.Millisecond), m.RMSE, m.BaselineRMSE, m.Revenue, m.Advised, m.RevenueAll)
	var parts []string
	for _, k := range sliceNames(m) {
		parts = append(parts, fmt.Sprintf("%s %.3f (%d)", k, m.Slices[k].RMSE, m.Slices[k].Rows))
	}
	fmt.Fprintf(stdout, "rmse by %s\n", strings.Join(parts, ", "))
	return nil
}

// envInt reads dv train's param KEY from DV_PARAM_KEY, or returns def.
func envInt(key string, def int) (int, error) {
	s := os.Getenv("DV_PARAM_" + strings.ToUpper(key))
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("param %s=%q: not an integer", key, s)
	}
	return v, nil
}

func envFloat(key string, def float64) (float64, error) {
	s := os.Getenv("DV_PARAM_" + strings.ToUpper(key))
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("param %s=%q: not a number", key, s)
	}
	return v, nil
}
