package traintest

import (
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
)

// FuzzSection fuzzes the owner of a dv.yaml section: any dv.yaml that
// decodes is read by load without a panic, and a refusal is one line. The
// corpus starts with ProductExample and seeds.
func FuzzSection(f *testing.F, load func(*workspace.Config) error, seeds ...string) {
	f.Add([]byte(ProductExample))
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := workspace.DecodeConfig(b)
		if err != nil {
			return
		}
		if err := load(cfg); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error is not one line: %q", err)
		}
	})
}

// ProductExample is the example dv.yaml of PRODUCT.md (every section),
// the seed of the dv.yaml fuzz targets.
const ProductExample = "version: 1\n" +
	"project: crop-quality\n" +
	"goal: Predict crop quality per field from GPS and soil data, to choose which fields to plant.\n" +
	"kpi:                            # the business metric: a key in the metrics file\n" +
	"  name: revenue_per_ha\n" +
	"  direction: higher\n" +
	"metrics:\n" +
	"  primary: rmse\n" +
	"promotion:\n" +
	"  alias: production             # the alias that `dv promote` moves by default\n" +
	"  criteria:                     # all must hold against the current holder (the baseline)\n" +
	"    - metric: rmse\n" +
	"      direction: lower\n" +
	"      threshold: 2.0                  # absolute bound for the candidate\n" +
	"      min_relative_improvement: 0.02  # at least 2 % better than the baseline\n" +
	"                                      # (min_improvement: an absolute gain)\n" +
	"    - metric: rmse\n" +
	"      direction: lower\n" +
	"      slices: all                     # overall and in every slice of the metrics file\n" +
	"      max_regression: 0.05            # a guard: no slice may get worse by more than this\n" +
	"      min_rows: 200                   # smaller slices are reported as skipped\n" +
	"    - metric: revenue_per_ha\n" +
	"      direction: higher\n" +
	"      max_regression: 0.0\n" +
	"drift:\n" +
	"  method: auto\n" +
	"  threshold: 0.1\n" +
	"  dataset_share: 0.5\n" +
	"retrain:\n" +
	"  on: [new-data, drift, metrics]\n" +
	"alerts:\n" +
	"  - url: env:DV_SLACK_WEBHOOK         # a webhook URL is a secret: from the environment\n" +
	"    on: [drift, stale, promotion]\n" +
	"serve:                                # dv export --format docker\n" +
	"  base: scratch\n" +
	"compute:                              # dv run/train --on NAME\n" +
	"  gpu-cluster: {engine: slurm, partition: gpu, time: \"02:00:00\", gres: \"gpu:1\"}\n" +
	"  k8s: {engine: kubernetes, context: prod, namespace: ml, image: \"registry/trainer@sha256:...\"}\n" +
	"remotes:\n" +
	"  default: shelf\n" +
	"  shelf: {url: ../shelf}\n" +
	"  s3: {url: \"s3://bucket/prefix\", endpoint: \"http://127.0.0.1:7070\", path_style: true}\n"
