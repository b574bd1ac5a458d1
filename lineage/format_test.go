package lineage

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects"
)

// requireTool returns the path of a program the test needs. Missing, the
// test is skipped, or fails when DV_REQUIRE_TOOLS is set (as in CI, where
// .ci/test installs the tools).
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("DV_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s is not installed (apt-get install -y %s) and DV_REQUIRE_TOOLS is set", name, pkg)
	}
	t.Skipf("%s is not installed (apt-get install -y %s); set DV_REQUIRE_TOOLS=1 to fail instead", name, pkg)
	return ""
}

func render(t *testing.T, sg *Subgraph, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, sg, format, FormatOptions{RepoURL: "https://example.com/acme/crops.git"}); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return b.String()
}

// hostileScenario adds records whose names, paths and metadata hold
// characters that DOT, Mermaid and JSON treat specially, and returns the
// up and down subgraphs through them.
func hostileScenario(t *testing.T) []*Subgraph {
	t.Helper()
	sc := newScenario(t)
	odd := "we\"ird\\ <b>#1;</b> | `x` {end} %% [a] (b) é 日本 -->"
	imp := write(t, sc.rc, &Record{Type: TypeImport, Path: "data/" + odd + ".csv", Data: dataID(odd),
		Source: "/srv/raw files/" + odd, FetchedAt: sc.rc.Now()}, "imports/odd")
	d := write(t, sc.rc, &Record{Type: TypeDataset, Path: "data/" + odd + ".csv", Name: odd, Data: dataID(odd),
		Parents: []objects.ID{imp},
		Desc:    "two\nlines\tand \x1b[31mred", Meta: map[string]string{"k\"=": "v\\", "source": "s3://b/" + odd}},
		RefFor(TypeDataset, odd))
	run := write(t, sc.rc, &Record{Type: TypeRun, Name: "end", Command: []string{"sh", "-c", odd},
		Params: map[string]string{odd: odd}, Status: "failed", ExitCode: 2,
		Inputs:  []IO{{Path: "data/" + odd + ".csv", Data: dataID(odd), Record: d}, {Path: "labels.csv", Record: sc.labels}},
		Outputs: []IO{{Path: "graph", Data: dataID("graph")}}}, "runs/end")
	g := sc.graph(t)
	var out []*Subgraph
	for _, f := range []func(objects.ID) (*Subgraph, error){g.Up, g.Down} {
		for _, id := range []objects.ID{run, sc.imp, sc.model, d} {
			sg, err := f(id)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, sg)
		}
	}
	return out
}

func TestText(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	g := sc.graph(t)
	up, err := g.Up(sc.model)
	if err != nil {
		t.Fatal(err)
	}
	text := render(t, up, "text")
	for _, re := range []string{
		`^model crop-rf \(model\.bin\)  ` + sc.model.Short() + `  2026-03-01 12:06:00Z  Ada Lovelace  01234567\n`,
		`\n└── made by: run train-rf  ` + sc.train.Short() + ` `,
		`\n    ├── input: dataset curated \(data/curated\.csv\)  ` + sc.curated.Short(),
		`\n    │   │     source: https://example\.com/data/raw\.csv\n`,
		`\n    │   │     license: CC-BY-4\.0\n`,
		`\n    │   │     desc: curated fields\n`,
		`\n    │   │     meta: pii=false\n`,
		`\n    │       └── input: import raw\.csv  ` + sc.imp.Short(),
		`etag: "abc123"\n`,
		`\n        └── labels for: dataset curated .* \(see above\)\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("text lacks %q:\n%s", re, text)
		}
	}
	down, err := g.Down(sc.curated)
	if err != nil {
		t.Fatal(err)
	}
	text = render(t, down, "text")
	for _, re := range []string{`read by: run train-rf`, `made: model crop-rf`, `metrics: metrics crop-rf`,
		`labelled by: labels labels\.csv`, `metrics: revenue_per_ha=812\.5`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("down text lacks %q:\n%s", re, text)
		}
	}
	for _, sg := range hostileScenario(t) {
		for _, line := range strings.Split(render(t, sg, "text"), "\n") {
			if strings.ContainsAny(line, "\x1b\t\r") {
				t.Errorf("text line holds a control character: %q", line)
			}
		}
	}
}

func TestJSONStable(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	var outs []string
	for range 3 {
		up, err := sc.graph(t).Up(sc.model)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, render(t, up, "json"))
	}
	if outs[0] != outs[1] || outs[1] != outs[2] {
		t.Fatalf("JSON differs between loads:\n%s\n%s", outs[0], outs[1])
	}
	var back Subgraph
	if err := json.Unmarshal([]byte(outs[0]), &back); err != nil {
		t.Fatal(err)
	}
	if back.Root != sc.model || back.Direction != Up || len(back.Nodes) != 6 || len(back.Edges) != 6 {
		t.Errorf("decoded: root %s, %s, %d nodes, %d edges", back.Root.Short(), back.Direction, len(back.Nodes), len(back.Edges))
	}
	if n := back.Nodes[len(back.Nodes)-1]; n.ID != sc.model || n.Record == nil || n.Metrics["rmse"] != 1.25 {
		t.Errorf("last node = %+v, want the model with its metrics", n)
	}
	if err := Write(&bytes.Buffer{}, &back, "yaml", FormatOptions{}); err == nil {
		t.Error("Write accepted an unknown format")
	}
}

// TestDOTRenders feeds every subgraph, odd names included, to graphviz.
func TestDOTRenders(t *testing.T) {
	t.Parallel()
	dot := requireTool(t, "dot", "graphviz")
	for i, sg := range hostileScenario(t) {
		src := render(t, sg, "dot")
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = strings.NewReader(src)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		svg, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("subgraph %d: dot -Tsvg: %v\n%s\n%s", i, err, stderr.String(), src)
		}
		if !bytes.Contains(svg, []byte("<svg")) || bytes.Count(svg, []byte(`class="node"`)) != len(sg.Nodes) ||
			bytes.Count(svg, []byte(`class="edge"`)) != len(sg.Edges) {
			t.Fatalf("subgraph %d: the SVG does not hold %d nodes and %d edges", i, len(sg.Nodes), len(sg.Edges))
		}
	}
}

// TestMermaidParses checks the Mermaid output with Mermaid's own parser,
// run by node from testdata/mermaid (installed once per machine with npm
// ci into the user's cache directory).
func TestMermaidParses(t *testing.T) {
	node := requireTool(t, "node", "nodejs")
	npm := requireTool(t, "npm", "npm")
	dir := mermaidChecker(t, npm)
	tmp := t.TempDir()
	var files []string
	for i, sg := range hostileScenario(t) {
		f := filepath.Join(tmp, "g"+string(rune('a'+i))+".mmd")
		if err := os.WriteFile(f, []byte(render(t, sg, "mermaid")), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	cmd := exec.Command(node, append([]string{filepath.Join(dir, "check.mjs")}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mermaid parse: %v\n%s", err, out)
	}
	if got := strings.Count(string(out), " flowchart"); got != len(files) {
		t.Fatalf("mermaid parsed %d of %d files as flowcharts:\n%s", got, len(files), out)
	}
}

// mermaidChecker installs testdata/mermaid's packages, once, into a cache
// directory named by the lock file's hash, and returns that directory.
func mermaidChecker(t *testing.T, npm string) string {
	t.Helper()
	var files = map[string][]byte{}
	for _, name := range []string{"package.json", "package-lock.json", "check.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "mermaid", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := objects.Hash(objects.TypeBlob, append(files["package-lock.json"], files["check.mjs"]...))
	dir := filepath.Join(cache, "dv-tests", "mermaid-"+sum.Short())
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "mermaid")); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil && os.MkdirAll(filepath.Dir(dir), 0o755) == nil {
		tmp, err = os.MkdirTemp(filepath.Dir(dir), "install-")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		if os.Getenv("DV_REQUIRE_TOOLS") != "" {
			t.Fatalf("npm ci in testdata/mermaid: %v\n%s", err, out)
		}
		t.Skipf("npm ci in testdata/mermaid failed (offline?); set DV_REQUIRE_TOOLS=1 to fail instead: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr != nil { // not a concurrent install that won
			t.Fatal(err)
		}
	}
	return dir
}
