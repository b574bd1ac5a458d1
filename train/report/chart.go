package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Chart is a line chart ready to draw: every coordinate is in SVG pixels.
type Chart struct {
	ID, Title      string
	Width, Height  int
	X0, Y0, X1, Y1 float64 // the plot area
	Series         []ChartSeries
	XTicks         []Tick
	YTicks         []Tick
	Threshold      *ThresholdLine
	Empty          bool
}

// ChartSeries is one line of a chart.
type ChartSeries struct {
	Name   string
	Class  string // s0, s1, ...: the colour
	Path   string
	Points []ChartPoint
}

// ChartPoint is one value: its place and its tooltip.
type ChartPoint struct {
	X, Y  float64
	Label string
	Mark  bool // drawn larger: the alias holder
}

// Tick is an axis label at a position.
type Tick struct {
	Pos   float64
	Label string
}

// ThresholdLine is the promotion rule's bound, drawn across the plot.
type ThresholdLine struct {
	Y     float64
	Label string
}

// point and series are a chart's input, in data units.
type point struct {
	x, y  float64
	label string
	mark  bool
}

type series struct {
	name   string
	points []point
}

// lineChart scales the series (and the threshold, when not nil) into a
// chart of the given size; xTicks are in data units.
func lineChart(id, title string, w, h int, xTicks []Tick, ss []series, threshold *float64, thresholdLabel string) *Chart {
	c := &Chart{ID: id, Title: title, Width: w, Height: h, X0: 56, Y0: 14, X1: float64(w) - 30, Y1: float64(h) - 30}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.points {
			xmin, xmax = min(xmin, p.x), max(xmax, p.x)
			ymin, ymax = min(ymin, p.y), max(ymax, p.y)
		}
	}
	for _, t := range xTicks {
		xmin, xmax = min(xmin, t.Pos), max(xmax, t.Pos)
	}
	if math.IsInf(ymin, 0) {
		c.Empty = true
		return c
	}
	if threshold != nil {
		ymin, ymax = min(ymin, *threshold), max(ymax, *threshold)
	}
	if ymax == ymin {
		d := max(math.Abs(ymin)*0.05, 0.01)
		ymin, ymax = ymin-d, ymax+d
	}
	pad := (ymax - ymin) * 0.12
	ymin, ymax = ymin-pad, ymax+pad
	step := niceStep((ymax - ymin) / 4)
	ymin, ymax = math.Floor(ymin/step)*step, math.Ceil(ymax/step)*step
	if xmax == xmin {
		xmin, xmax = xmin-1, xmax+1
	}
	sx := func(x float64) float64 { return round1(c.X0 + (x-xmin)/(xmax-xmin)*(c.X1-c.X0)) }
	sy := func(y float64) float64 { return round1(c.Y1 - (y-ymin)/(ymax-ymin)*(c.Y1-c.Y0)) }
	for i, s := range ss {
		cs := ChartSeries{Name: s.name, Class: "s" + strconv.Itoa(i%6)}
		var d strings.Builder
		for j, p := range s.points {
			x, y := sx(p.x), sy(p.y)
			cs.Points = append(cs.Points, ChartPoint{X: x, Y: y, Label: p.label, Mark: p.mark})
			if j == 0 {
				fmt.Fprintf(&d, "M%g,%g", x, y)
			} else {
				fmt.Fprintf(&d, " L%g,%g", x, y)
			}
		}
		cs.Path = d.String()
		c.Series = append(c.Series, cs)
	}
	for _, t := range xTicks {
		c.XTicks = append(c.XTicks, Tick{Pos: sx(t.Pos), Label: t.Label})
	}
	for v := ymin; v <= ymax+step/2; v += step {
		c.YTicks = append(c.YTicks, Tick{Pos: sy(v), Label: strconv.FormatFloat(math.Round(v/step)*step, 'f', decimals(step), 64)})
	}
	if threshold != nil {
		c.Threshold = &ThresholdLine{Y: sy(*threshold), Label: thresholdLabel}
	}
	return c
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// decimals is how many decimals a multiple of step needs.
func decimals(step float64) int { return max(0, int(-math.Floor(math.Log10(step)+1e-9))) }

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// num formats a value for people: 3 significant digits, no exponent for
// everyday sizes.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a >= 0.001:
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
