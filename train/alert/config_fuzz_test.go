package alert

import (
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/traintest"
)

// FuzzAlertsConfig: any dv.yaml that decodes is read by alert.FromConfig without a panic,
// and a refusal is one line.
func FuzzAlertsConfig(f *testing.F) {
	traintest.FuzzSection(f, func(cfg *workspace.Config) error {
		_, err := FromConfig(cfg, nil)
		return err
	}, "version: 1\nalerts: [{url: env:HOOK, on: [drift]}]\n", "version: 1\nalerts: {url: ftp://x}\n")
}
