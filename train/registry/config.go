package registry

import (
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"

	"github.com/dv-ml/dv/objects/workspace"
)

// Directions of a metric: which way is better.
const (
	Higher = "higher"
	Lower  = "lower"
)

// DefaultAlias is the alias dv promote moves when neither --to nor
// dv.yaml's promotion.alias names one.
const DefaultAlias = "production"

// KPI is the business metric of dv.yaml's kpi section.
type KPI struct {
	Name      string `yaml:"name"`
	Direction string `yaml:"direction"`
	Key       string `yaml:"key"` // the metrics key holding it (default: Name)
}

// MetricsSection is dv.yaml's metrics section.
type MetricsSection struct {
	Primary string `yaml:"primary"`
}

// Criterion is one promotion rule: a metric, which way is better, and any
// of an absolute threshold, a minimum (absolute or relative) improvement
// over the baseline and a maximum regression (a guard), overall and, with
// slices, in each slice.
type Criterion struct {
	Metric                 string    `yaml:"metric"`
	Direction              string    `yaml:"direction"`
	Threshold              *float64  `yaml:"threshold"`
	MinImprovement         *float64  `yaml:"min_improvement"`
	MinRelativeImprovement *float64  `yaml:"min_relative_improvement"`
	MaxRegression          *float64  `yaml:"max_regression"`
	SlicesNode             yaml.Node `yaml:"slices"`   // "all" or a list of slice names
	MinRows                *float64  `yaml:"min_rows"` // a whole number`

	// AllSlices and Slices are SlicesNode decoded.
	AllSlices bool     `yaml:"-"`
	Slices    []string `yaml:"-"`
}

// Promotion is dv.yaml's promotion section.
type Promotion struct {
	Alias    string      `yaml:"alias"`
	Criteria []Criterion `yaml:"criteria"`
}

// Framing is the problem framing of dv.yaml: goal, KPI, primary metric
// and promotion rules, decoded and checked.
type Framing struct {
	Goal      string
	KPI       *KPI
	Metrics   MetricsSection
	Promotion Promotion
}

// LoadFraming decodes and checks the framing sections of c. Every unknown
// key, wrong type, unknown direction or negative tolerance is one
// *workspace.SectionError naming the line and key.
func LoadFraming(c *workspace.Config) (*Framing, error) {
	f := &Framing{}
	if _, err := c.Section("goal", &f.Goal); err != nil {
		return nil, err
	}
	var kpi KPI
	if ok, err := c.Section("kpi", &kpi); err != nil {
		return nil, err
	} else if ok {
		n := c.Node("kpi")
		if kpi.Name == "" {
			return nil, workspace.SectionErr(n, "kpi.name", "missing: name the business metric")
		}
		if err := checkDirection(child(n, "direction"), "kpi.direction", kpi.Direction); err != nil {
			return nil, err
		}
		if kpi.Key == "" {
			kpi.Key = kpi.Name
		}
		f.KPI = &kpi
	}
	if _, err := c.Section("metrics", &f.Metrics); err != nil {
		return nil, err
	}
	if _, err := c.Section("promotion", &f.Promotion); err != nil {
		return nil, err
	}
	n := c.Node("promotion")
	if f.Promotion.Alias != "" {
		if err := ValidAlias(f.Promotion.Alias); err != nil {
			return nil, workspace.SectionErr(child(n, "alias"), "promotion.alias", "%v", err)
		}
	}
	crit := child(n, "criteria")
	for i := range f.Promotion.Criteria {
		var cn *yaml.Node
		if crit != nil && i < len(crit.Content) {
			cn = crit.Content[i]
		}
		if err := f.Promotion.Criteria[i].check(cn, fmt.Sprintf("promotion.criteria[%d]", i)); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// check validates a criterion at node n (key path key) and decodes its
// slices.
func (c *Criterion) check(n *yaml.Node, key string) error {
	if c.Metric == "" {
		return workspace.SectionErr(n, key+".metric", "missing: name the metric this rule checks")
	}
	if err := checkDirection(child(n, "direction"), key+".direction", c.Direction); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		v    *float64
	}{{"threshold", c.Threshold}, {"min_improvement", c.MinImprovement},
		{"min_relative_improvement", c.MinRelativeImprovement}, {"max_regression", c.MaxRegression}} {
		if t.v == nil {
			continue
		}
		if math.IsNaN(*t.v) || math.IsInf(*t.v, 0) {
			return workspace.SectionErr(child(n, t.name), key+"."+t.name, "must be a finite number")
		}
		if t.name != "threshold" && *t.v < 0 {
			return workspace.SectionErr(child(n, t.name), key+"."+t.name, "must not be negative (it is a tolerance: %v)", *t.v)
		}
	}
	if c.Threshold == nil && c.MinImprovement == nil && c.MinRelativeImprovement == nil && c.MaxRegression == nil {
		return workspace.SectionErr(n, key, "no rule: give threshold, min_improvement, min_relative_improvement or max_regression")
	}
	if c.MinRows != nil && (*c.MinRows < 0 || *c.MinRows != math.Trunc(*c.MinRows) || *c.MinRows > 1e15) {
		return workspace.SectionErr(child(n, "min_rows"), key+".min_rows", "must be a whole number of rows, not negative (%v)", *c.MinRows)
	}
	sn := &c.SlicesNode
	switch {
	case sn.Kind == 0 || sn.Tag == "!!null":
	case sn.Kind == yaml.ScalarNode && sn.Value == "all":
		c.AllSlices = true
	case sn.Kind == yaml.SequenceNode:
		for _, e := range sn.Content {
			if e.Kind != yaml.ScalarNode || e.Value == "" {
				return workspace.SectionErr(e, key+".slices", "want slice names (soil=clay), or all")
			}
			c.Slices = append(c.Slices, e.Value)
		}
	default:
		return workspace.SectionErr(sn, key+".slices", "want all, or a list of slice names")
	}
	if c.MinRows != nil && !c.AllSlices && len(c.Slices) == 0 {
		return workspace.SectionErr(child(n, "min_rows"), key+".min_rows", "applies to slices: add slices: all or a list")
	}
	return nil
}

func checkDirection(n *yaml.Node, key, d string) error {
	switch d {
	case Higher, Lower:
		return nil
	case "":
		return workspace.SectionErr(n, key, "missing: higher or lower (which way is better)")
	}
	return workspace.SectionErr(n, key, "%q: want higher or lower", d)
}

// child returns the value of key in mapping n (nil when absent).
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return n
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}
