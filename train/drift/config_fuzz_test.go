package drift

import (
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/traintest"
)

// FuzzDriftConfig: any dv.yaml that decodes is read by drift.LoadConfig without a panic,
// and a refusal is one line.
func FuzzDriftConfig(f *testing.F) {
	traintest.FuzzSection(f, func(cfg *workspace.Config) error {
		_, err := LoadConfig(cfg)
		return err
	}, "version: 1\ndrift: {method: ks, threshold: 2, columns: {a: {method: psi}}}\n", "version: 1\ndrift: {dataset_share: -1}\n")
}
