package registry

import (
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/traintest"
)

// FuzzLoadFraming: any dv.yaml that decodes is read by registry.LoadFraming (goal, kpi, metrics, promotion) without a panic,
// and a refusal is one line.
func FuzzLoadFraming(f *testing.F) {
	traintest.FuzzSection(f, func(cfg *workspace.Config) error {
		_, err := LoadFraming(cfg)
		return err
	}, "version: 1\npromotion: {alias: prod, criteria: [{metric: rmse, direction: lower, threshold: -1}]}\n", "version: 1\nkpi: {name: x, direction: sideways}\n")
}
