package drift

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dv-ml/dv/objects/workspace"
)

// Config is dv.yaml's drift section:
//
//	drift:
//	  method: auto            # or ks, chisquare, ztest, wasserstein, jensenshannon, psi
//	  threshold: 0.1          # for every column; default: the method's
//	  dataset_share: 0.5      # the dataset drifts when this share of columns do
//	  columns:
//	    income: {method: psi, threshold: 0.2}
type Config struct {
	Method       string                  `yaml:"method"`
	Threshold    *float64                `yaml:"threshold"`
	DatasetShare *float64                `yaml:"dataset_share"`
	Columns      map[string]ColumnConfig `yaml:"columns"`
}

// ColumnConfig overrides the method or threshold of one column.
type ColumnConfig struct {
	Method    string   `yaml:"method"`
	Threshold *float64 `yaml:"threshold"`
}

// DefaultDatasetShare is the share of checked columns that must drift for
// the dataset to drift.
const DefaultDatasetShare = 0.5

// LoadConfig decodes and checks the drift section of dv.yaml.
func LoadConfig(c *workspace.Config) (Config, error) {
	var cfg Config
	if _, err := c.Section("drift", &cfg); err != nil {
		return cfg, err
	}
	n := c.Node("drift")
	if err := checkMethod(cfg.Method, child(n, "method"), "drift.method"); err != nil {
		return cfg, err
	}
	if err := checkThreshold(cfg.Threshold, child(n, "threshold"), "drift.threshold"); err != nil {
		return cfg, err
	}
	if s := cfg.DatasetShare; s != nil && (*s <= 0 || *s > 1 || math.IsNaN(*s)) {
		return cfg, workspace.SectionErr(child(n, "dataset_share"), "drift.dataset_share", "%v is not a share in (0, 1]", *s)
	}
	cols := child(n, "columns")
	for name, cc := range cfg.Columns {
		cn := child(cols, name)
		if err := checkMethod(cc.Method, child(cn, "method"), "drift.columns."+name+".method"); err != nil {
			return cfg, err
		}
		if err := checkThreshold(cc.Threshold, child(cn, "threshold"), "drift.columns."+name+".threshold"); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func checkMethod(m string, n *yaml.Node, key string) error {
	if m == "" || slices.Contains(Methods, m) {
		return nil
	}
	return workspace.SectionErr(n, key, "unknown method %q (known: %s)", m, strings.Join(Methods, ", "))
}

func checkThreshold(t *float64, n *yaml.Node, key string) error {
	if t == nil || (*t >= 0 && !math.IsInf(*t, 0)) {
		return nil
	}
	return workspace.SectionErr(n, key, "%v is not a threshold (a number ≥ 0)", *t)
}

// CheckMethod refuses an unknown --method.
func CheckMethod(m string) error {
	if m == "" || slices.Contains(Methods, m) {
		return nil
	}
	return fmt.Errorf("unknown method %q (known: %s)", m, strings.Join(Methods, ", "))
}

// child returns the value node of key in mapping n (nil when absent).
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// methodFor is the method and threshold of a column: the command line's,
// else the column's in dv.yaml, else the section's, else auto and the
// method's default threshold (NaN: decided once the method is).
func (cfg Config) methodFor(col, method string, threshold float64) (string, float64) {
	cc := cfg.Columns[col]
	if method == "" {
		method = cc.Method
	}
	if method == "" {
		method = cfg.Method
	}
	if method == "" {
		method = MethodAuto
	}
	if math.IsNaN(threshold) && cc.Threshold != nil {
		threshold = *cc.Threshold
	}
	if math.IsNaN(threshold) && cfg.Threshold != nil {
		threshold = *cfg.Threshold
	}
	return method, threshold
}

// ParseBytes parses a size: a number of bytes, or one with a KiB, MiB
// or GiB suffix.
func ParseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or with KiB, MiB, GiB)", s)
	}
	return n * mult, nil
}
