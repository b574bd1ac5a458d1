package lineage

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dv-ml/dv/objects"
)

// olSchemas compiles the OpenLineage schemas in testdata/openlineage,
// each registered under its $id so that $ref URLs resolve to the local
// copies (nothing is fetched). It returns the RunEvent schema and, by
// facet name, the schema of each facet dv writes.
func olSchemas(t *testing.T) (*jsonschema.Schema, map[string]*jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := filepath.Glob(filepath.Join("testdata", "openlineage", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in testdata/openlineage: %v", err)
	}
	ids := map[string]string{} // file name -> $id
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("%s has no $id", f)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ids[filepath.Base(f)] = id
	}
	compile := func(loc string) *jsonschema.Schema {
		sch, err := c.Compile(loc)
		if err != nil {
			t.Fatalf("compile %s: %v", loc, err)
		}
		return sch
	}
	facets := map[string]*jsonschema.Schema{}
	for name, file := range map[string]string{
		"sourceCodeLocation": "SourceCodeLocationJobFacet.json", "jobType": "JobTypeJobFacet.json",
		"errorMessage": "ErrorMessageRunFacet.json", "version": "DatasetVersionDatasetFacet.json",
		"documentation": "DocumentationDatasetFacet.json",
	} {
		facets[name] = compile(ids[file]) // the file's root: {"properties": {name: facet}}
	}
	return compile(ids["OpenLineage.json"] + "#/$defs/RunEvent"), facets
}

// validateFacets checks each facet of a facets object against its own
// schema; facets dv defines itself ("dv") only against BaseFacet, which
// the RunEvent schema already did.
func validateFacets(t *testing.T, where string, facets any, schemas map[string]*jsonschema.Schema) {
	t.Helper()
	m, _ := facets.(map[string]any)
	for name, f := range m {
		sch, ok := schemas[name]
		if !ok {
			if name != "dv" {
				t.Errorf("%s: facet %q has no schema here", where, name)
			}
			continue
		}
		if err := sch.Validate(map[string]any{name: f}); err != nil {
			t.Errorf("%s: facet %s: %v", where, name, err)
		}
	}
}

func TestOpenLineageValidates(t *testing.T) {
	t.Parallel()
	runEvent, facets := olSchemas(t)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	events, fails := 0, 0
	runIDs := map[string]string{}
	for _, repo := range []string{"https://example.com/acme/crops.git", "git@example.com:acme/crops.git", "/home/ada/crops", ""} {
		for _, sg := range hostileScenario(t) {
			var b bytes.Buffer
			if err := WriteOpenLineage(&b, sg, FormatOptions{RepoURL: repo}); err != nil {
				t.Fatal(err)
			}
			wantEvents := 0
			for _, n := range sg.Nodes {
				if n.Type == TypeRun || n.Type == TypeImport {
					wantEvents++
				}
			}
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if b.Len() == 0 {
				lines = nil
			}
			if len(lines) != wantEvents {
				t.Fatalf("%d events for %d runs and imports", len(lines), wantEvents)
			}
			for _, line := range lines {
				inst, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
				if err != nil {
					t.Fatalf("event is not JSON: %v\n%s", err, line)
				}
				if err := runEvent.Validate(inst); err != nil {
					t.Fatalf("event does not validate: %v\n%s", err, line)
				}
				var ev olEvent
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatal(err)
				}
				events++
				if ev.EventType == "FAIL" {
					fails++
				}
				if !uuidRE.MatchString(ev.Run.RunID) {
					t.Errorf("runId %q is not a version 5 UUID", ev.Run.RunID)
				}
				if ev.Producer != Producer || ev.Job.Namespace != OpenLineageNS {
					t.Errorf("producer %q, namespace %q", ev.Producer, ev.Job.Namespace)
				}
				if _, ok := ev.Job.Facets["sourceCodeLocation"]; ok != (repo != "") {
					t.Errorf("repo %q: sourceCodeLocation facet present: %v", repo, ok)
				}
				dv, _ := ev.Run.Facets["dv"].(map[string]any)
				if rec, ok := dv["record"].(string); !ok {
					t.Errorf("event has no dv facet naming its record: %s", line)
				} else {
					if prev, seen := runIDs[rec]; seen && prev != ev.Run.RunID {
						t.Errorf("record %s got runIds %s and %s", rec, prev, ev.Run.RunID)
					}
					runIDs[rec] = ev.Run.RunID
				}
				validateFacets(t, "job", ev.Job.Facets, facets)
				validateFacets(t, "run", ev.Run.Facets, facets)
				for _, d := range append(ev.Inputs, ev.Outputs...) {
					validateFacets(t, "dataset "+d.Name, d.Facets, facets)
				}
			}
		}
	}
	if events == 0 || fails == 0 {
		t.Fatalf("%d events, %d failed: the scenario should have both", events, fails)
	}
	seen := map[string]bool{}
	for _, id := range runIDs {
		if seen[id] {
			t.Errorf("two records share runId %s", id)
		}
		seen[id] = true
	}
}

func TestOpenLineageRunEvent(t *testing.T) {
	t.Parallel()
	sc := newScenario(t)
	up, err := sc.graph(t).Up(sc.model)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteOpenLineage(&b, up, FormatOptions{RepoURL: "git@example.com:acme/crops.git"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 { // the import, the ETL run, the training run
		t.Fatalf("%d events, want 3:\n%s", len(lines), b.String())
	}
	var ev olEvent
	if err := json.Unmarshal([]byte(lines[2]), &ev); err != nil {
		t.Fatal(err)
	}
	loc, _ := ev.Job.Facets["sourceCodeLocation"].(map[string]any)
	jt, _ := ev.Job.Facets["jobType"].(map[string]any)
	switch {
	case ev.EventType != "COMPLETE", ev.Job.Name != "train-rf", ev.Run.RunID != RunID(sc.train):
		t.Errorf("event %s, job %s, runId %s", ev.EventType, ev.Job.Name, ev.Run.RunID)
	case loc["url"] != "ssh://git@example.com/acme/crops.git" || loc["version"] != sc.rc.Code.Commit || loc["type"] != "git":
		t.Errorf("sourceCodeLocation = %v", loc)
	case jt["jobType"] != "MODEL":
		t.Errorf("jobType = %v, want MODEL for a run that made a model", jt)
	case len(ev.Inputs) != 2 || ev.Inputs[0].Name != "data/curated.csv" || len(ev.Outputs) != 1 || ev.Outputs[0].Name != "model.bin":
		t.Errorf("inputs %+v, outputs %+v", ev.Inputs, ev.Outputs)
	}
	v, _ := ev.Outputs[0].Facets["version"].(map[string]any)
	if v["datasetVersion"] != dataID("model").String() {
		t.Errorf("output version facet = %v", v)
	}
	if RunID(sc.train) == RunID(sc.etl) || RunID(objects.ID{}) == "" {
		t.Error("RunID is not distinct per record")
	}
}

func TestSourceURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                               "",
		"https://example.com/a/b.git":    "https://example.com/a/b.git",
		"git@example.com:a/b.git":        "ssh://git@example.com/a/b.git",
		"/home/ada/my project":           "file:///home/ada/my%20project",
		"ssh://git@example.com:22/a/b":   "ssh://git@example.com:22/a/b",
		"relative/dir":                   "file:///relative/dir",
		"example.com:/srv/git/crops.git": "ssh://example.com/srv/git/crops.git",
	} {
		if got := sourceURL(in); got != want {
			t.Errorf("sourceURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourceDataset(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]olDataset{
		"https://example.com/data/raw.csv?x=1": {Namespace: "https://example.com", Name: "data/raw.csv"},
		"s3://bucket/prefix/raw.csv":           {Namespace: "s3://bucket", Name: "prefix/raw.csv"},
		"file:///srv/raw.csv":                  {Namespace: "file", Name: "/srv/raw.csv"},
		"/srv/raw files/raw.csv":               {Namespace: "file", Name: "/srv/raw files/raw.csv"},
	} {
		if got, ok := sourceDataset(in); !ok || got.Namespace != want.Namespace || got.Name != want.Name {
			t.Errorf("sourceDataset(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	if _, ok := sourceDataset("relative/raw.csv"); ok {
		t.Error("a relative path became a dataset")
	}
}
