package export

import (
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/traintest"
)

// FuzzLoadServe: any dv.yaml that decodes is read by export.LoadServe (serve:) without a panic,
// and a refusal is one line.
func FuzzLoadServe(f *testing.F) {
	traintest.FuzzSection(f, func(cfg *workspace.Config) error {
		_, err := LoadServe(cfg)
		return err
	}, "version: 1\nserve: {base: scratch, cmd: [serve, /model]}\n", "version: 1\nserve: {port: -1}\n")
}
