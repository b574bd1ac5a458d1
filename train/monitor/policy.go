package monitor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/registry"
)

// Reasons a model is stale: the values of dv.yaml's retrain.on.
const (
	ReasonNewData = "new-data" // an input of its run has a newer version
	ReasonDrift   = "drift"    // its latest drift check found drift
	ReasonMetrics = "metrics"  // a production metric broke a promotion threshold
)

// AllReasons lists the reasons in the order output gives them.
var AllReasons = []string{ReasonNewData, ReasonDrift, ReasonMetrics}

// Policy is dv.yaml's retrain: section: which reasons make a model stale.
type Policy struct {
	On []string `yaml:"on"`
}

// Counts reports whether reason counts under the policy.
func (p Policy) Counts(reason string) bool { return slices.Contains(p.On, reason) }

// LoadPolicy decodes the retrain: section of cfg (nil: none); without it
// every reason counts.
func LoadPolicy(cfg *workspace.Config) (Policy, error) {
	p := Policy{On: AllReasons}
	if cfg == nil {
		return p, nil
	}
	var got Policy
	ok, err := cfg.Section("retrain", &got)
	if err != nil || !ok {
		return p, err
	}
	n := cfg.Node("retrain")
	for _, r := range got.On {
		if !slices.Contains(AllReasons, r) {
			return p, workspace.SectionErr(n, "retrain.on", "unknown reason %q (known: %s)", r, strings.Join(AllReasons, ", "))
		}
	}
	if got.On == nil {
		return p, nil
	}
	return got, nil
}

// Threshold is the absolute bound a promotion criterion puts on a metric:
// a value above it (direction lower) or below it (direction higher)
// breaks it.
type Threshold struct {
	Metric    string  `json:"metric"`
	Direction string  `json:"direction"` // lower or higher
	Bound     float64 `json:"threshold"`
}

// Breaks reports whether v breaks the threshold.
func (t Threshold) Breaks(v float64) bool {
	if t.Direction == "lower" {
		return v > t.Bound
	}
	return v < t.Bound
}

// String is "rmse <= 2".
func (t Threshold) String() string {
	op := ">="
	if t.Direction == "lower" {
		op = "<="
	}
	return fmt.Sprintf("%s %s %g", t.Metric, op, t.Bound)
}

// LoadThresholds returns the absolute thresholds of dv.yaml's promotion
// criteria (those with a threshold; overall values, not per slice), as
// the registry decodes and checks them.
func LoadThresholds(cfg *workspace.Config) ([]Threshold, error) {
	if cfg == nil {
		return nil, nil
	}
	f, err := registry.LoadFraming(cfg)
	if err != nil {
		return nil, err
	}
	var out []Threshold
	for _, c := range f.Promotion.Criteria {
		if c.Threshold != nil {
			out = append(out, Threshold{Metric: c.Metric, Direction: c.Direction, Bound: *c.Threshold})
		}
	}
	return out, nil
}

// DefaultAlias is dv.yaml's promotion.alias, or the registry's default
// (production).
func DefaultAlias(cfg *workspace.Config) string {
	if cfg != nil {
		if f, err := registry.LoadFraming(cfg); err == nil && f.Promotion.Alias != "" {
			return f.Promotion.Alias
		}
	}
	return registry.DefaultAlias
}
