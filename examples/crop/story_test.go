package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStory runs the README's main command, examples/crop/run.sh, and
// checks the outcome of every step it reports: the exit codes of the
// gates and the drift check, which columns drifted, which version holds
// production after each decision, the teammate's byte-for-byte
// reproduction and the report. The script checks each step itself and
// exits non-zero at the first surprise.
func TestStory(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole story (15 to 40 s) does not run with -short")
	}
	for _, tool := range []string{"bash", "git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the story needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	facts := filepath.Join(dir, "facts")
	cmd := exec.Command("bash", "run.sh")
	cmd.Env = append(os.Environ(), "DV_STORY_DIR="+filepath.Join(dir, "story"), "DV_STORY_FACTS="+facts)
	os.MkdirAll(filepath.Join(dir, "story"), 0o755)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	got := readFacts(t, facts)
	want := map[string]string{
		"promote_v1":      "0",                         // first baseline: promoted on the threshold alone
		"drift_exit":      "5",                         // season 2 drifted
		"drifted":         "ph,rain_mm,soil,sun_hours", // and lat, lon, area_ha did not
		"promote_v2":      "0",                         // the retrained model is better
		"holder_after_v2": "v2",
		"promote_v3":      "4",  // better on average, worse on peat: rejected
		"holder_final":    "v1", // after the rollback
		"reproduced":      "yes",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	report, err := os.ReadFile(got["report"])
	if err != nil {
		t.Fatalf("the report: %v", err)
	}
	for _, s := range []string{`<svg id="lineage"`, `<svg id="chart-rmse"`, `<svg id="timeline"`, `<table id="drift"`, `<svg id="prod-rmse"`, "soil=peat"} {
		if !strings.Contains(string(report), s) {
			t.Errorf("the report lacks %q", s)
		}
	}
	// Every step says what happened and why it matters.
	steps := len(regexp.MustCompile(`(?m)^== [1-9][0-9]*\. `).FindAll(out, -1))
	says := len(regexp.MustCompile(`(?m)^-> `).FindAll(out, -1))
	if steps < 19 || says != steps {
		t.Errorf("%d steps and %d '->' lines saying what happened", steps, says)
	}
	for _, s := range []string{"rejected: crop v3 does not get production", "soil=peat", "DRIFT: 4 of 7 columns drifted",
		"stale: crop@production", "rolled back: crop v1 holds production again", "open the report: "} {
		if !strings.Contains(string(out), s) {
			t.Errorf("the story's output lacks %q", s)
		}
	}
}

func readFacts(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	return out
}
