package dvcli

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/registry"
)

// TestInitTemplateFraming: every framing key of the dv init template,
// uncommented, is real and validates.
func TestInitTemplateFraming(t *testing.T) {
	body := fmt.Sprintf(yamlTemplate, "p")
	uncommented := regexp.MustCompile(`(?m)^# ?`).ReplaceAllString(body, "")
	uncommented = regexp.MustCompile(`(?m)^(dv project file|\(committed).*$`).ReplaceAllString(uncommented, "")
	c, err := workspace.DecodeConfig([]byte(uncommented))
	if err != nil {
		t.Fatalf("template uncommented: %v\n%s", err, uncommented)
	}
	f, err := registry.LoadFraming(c)
	if err != nil {
		t.Fatalf("template uncommented: %v\n%s", err, uncommented)
	}
	if f.Goal == "" || f.KPI == nil || f.Metrics.Primary == "" || f.Promotion.Alias == "" || len(f.Promotion.Criteria) != 3 {
		t.Fatalf("template framing incomplete: %+v", f)
	}
}
