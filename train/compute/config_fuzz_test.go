package compute

import (
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/traintest"
)

// FuzzComputeConfig: any dv.yaml that decodes is read by compute.LoadConfig without a panic,
// and a refusal is one line.
func FuzzComputeConfig(f *testing.F) {
	traintest.FuzzSection(f, func(cfg *workspace.Config) error {
		_, err := LoadConfig(cfg)
		return err
	}, "version: 1\ncompute: {s: {engine: slurm, time: \"1-02:00:00\"}}\n", "version: 1\ncompute: {k: {engine: kubernetes, image: nodigest}}\n")
}
