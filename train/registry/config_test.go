package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
)

const goodYAML = `version: 1
goal: Predict crop quality per field.
kpi:
  name: revenue_per_ha
  direction: higher
metrics:
  primary: rmse
promotion:
  alias: production
  criteria:
    - metric: rmse
      direction: lower
      threshold: 2.0
      min_relative_improvement: 0.02
    - metric: rmse
      direction: lower
      slices: all
      max_regression: 0.05
      min_rows: 200
    - metric: revenue_per_ha
      direction: higher
      slices: [soil=clay, soil=sand]
      max_regression: 0.0
`

func TestLoadFraming(t *testing.T) {
	c, err := workspace.DecodeConfig([]byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	f, err := LoadFraming(c)
	if err != nil {
		t.Fatal(err)
	}
	if f.KPI.Key != "revenue_per_ha" || f.Metrics.Primary != "rmse" || f.Promotion.Alias != "production" ||
		len(f.Promotion.Criteria) != 3 || !f.Promotion.Criteria[1].AllSlices || *f.Promotion.Criteria[1].MinRows != 200 ||
		strings.Join(f.Promotion.Criteria[2].Slices, ",") != "soil=clay,soil=sand" || *f.Promotion.Criteria[0].Threshold != 2 {
		t.Fatalf("decoded %+v", f)
	}
}

// TestLoadFramingErrors: each malformed dv.yaml is one error naming the
// file, line and key.
func TestLoadFramingErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"unknown criterion key", "      threshold: 2.0\n", "      treshold: 2.0\n", "dv.yaml:13: promotion.criteria[0].treshold: unknown key"},
		{"unknown promotion key", "  alias: production\n", "  alias: production\n  aliases: x\n", "dv.yaml:10: promotion.aliases: unknown key"},
		{"unknown kpi key", "  name: revenue_per_ha\n", "  name: revenue_per_ha\n  unit: eur\n", "dv.yaml:5: kpi.unit: unknown key"},
		{"threshold not a number", "threshold: 2.0", "threshold: two", "dv.yaml:13: promotion: cannot unmarshal !!str `two`"},
		{"criteria not a list", "  criteria:\n    - metric: rmse\n      direction: lower\n      threshold: 2.0\n", "  criteria: rmse\n  other:\n    - metric: rmse\n      direction: lower\n      threshold: 2.0\n", "dv.yaml:11: promotion.other: unknown key"},
		{"goal not a string", "goal: Predict crop quality per field.", "goal: [a, b]", "dv.yaml:2: goal: cannot unmarshal"},
		{"unknown direction", "      direction: lower\n      threshold", "      direction: down\n      threshold", `dv.yaml:12: promotion.criteria[0].direction: "down": want higher or lower`},
		{"kpi direction", "  direction: higher\n", "  direction: up\n", `dv.yaml:5: kpi.direction: "up": want higher or lower`},
		{"missing direction", "    - metric: revenue_per_ha\n      direction: higher\n", "    - metric: revenue_per_ha\n", "dv.yaml:20: promotion.criteria[2].direction: missing: higher or lower"},
		{"negative tolerance", "max_regression: 0.05", "max_regression: -0.05", "dv.yaml:18: promotion.criteria[1].max_regression: must not be negative"},
		{"negative relative", "min_relative_improvement: 0.02", "min_relative_improvement: -0.02", "dv.yaml:14: promotion.criteria[0].min_relative_improvement: must not be negative"},
		{"negative rows", "min_rows: 200", "min_rows: -1", "dv.yaml:19: promotion.criteria[1].min_rows: must be a whole number"},
		{"rows not int", "min_rows: 200", "min_rows: 2.5", "dv.yaml:19: promotion.criteria[1].min_rows: must be a whole number"},
		{"slices bad", "slices: all", "slices: some", "dv.yaml:17: promotion.criteria[1].slices: want all, or a list"},
		{"no metric", "    - metric: rmse\n      direction: lower\n      slices", "    - direction: lower\n      slices", "dv.yaml:15: promotion.criteria[1].metric: missing"},
		{"no rule", "      threshold: 2.0\n      min_relative_improvement: 0.02\n", "", "dv.yaml:11: promotion.criteria[0]: no rule"},
		{"bad alias", "alias: production", "alias: v2", "dv.yaml:9: promotion.alias: alias \"v2\": vN names a version"},
		{"misspelt section", "promotion:", "promtion:", "dv.yaml:8: promtion: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodYAML, tc.from) {
				t.Fatalf("%q not in the YAML", tc.from)
			}
			y := strings.Replace(goodYAML, tc.from, tc.to, 1)
			c, err := workspace.DecodeConfig([]byte(y))
			if err == nil {
				_, err = LoadFraming(c)
			}
			var se *workspace.SectionError
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.As(err, &se) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line starting %q", err, tc.want)
			}
		})
	}
}
