package testscripts

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// toolCondition is the condition [tool:PROG]: true when PROG is
// installed. When it is not and DV_REQUIRE_TOOLS is set (as in CI, where
// .ci/test installs the real clients dv's output is checked with), the
// script fails instead of skipping.
func toolCondition(cond string) (bool, error) {
	prog, ok := strings.CutPrefix(cond, "tool:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(prog); err == nil {
		return true, nil
	}
	if os.Getenv("DV_REQUIRE_TOOLS") != "" {
		return false, fmt.Errorf("%s is not installed (apt-get install -y %s) and DV_REQUIRE_TOOLS is set", prog, prog)
	}
	return false, nil
}
