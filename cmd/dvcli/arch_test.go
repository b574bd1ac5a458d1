package dvcli

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// allowed lists, for each dv package (by path below the module), the dv
// packages it may import. See docs/ARCHITECTURE.md.
var allowed = map[string][]string{
	"objects":           {},
	"objects/workspace": {"objects"},
	"refs":              {"objects"},
	"refs/git":          {"objects", "objects/workspace"},
	"remote":            {"objects", "refs"},
	"lineage":           {"objects", "refs", "refs/git", "objects/workspace"},
	"train":             {"objects", "refs", "refs/git", "lineage", "remote", "objects/workspace", "train/registry"},
	"train/registry":    {"objects", "refs", "lineage", "objects/workspace"},
	"train/drift":       {"objects", "refs", "lineage", "objects/workspace"},
	"train/alert":       {"objects/workspace"},
	"train/monitor":     {"objects", "refs", "lineage", "objects/workspace", "train", "train/alert", "train/registry"},
	"train/export":      {"objects", "objects/workspace", "refs", "lineage", "train", "train/registry"},
	"train/report":      {"objects", "refs", "lineage", "objects/workspace", "train/registry"},
	"train/compute":     {"train", "objects", "refs", "lineage", "remote", "objects/workspace"},
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/dv-ml/dv/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/dv-ml/dv/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, mod)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			if strings.HasPrefix(dep, "cmd/") && !strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, "testscripts") {
				t.Errorf("%s imports %s: only cmd and testscripts may import cmd", pkg, dep)
			}
			top, rules := ruleFor(pkg)
			if rules == nil {
				continue // cmd, testscripts: anything goes
			}
			if !permitted(dep, top, rules) {
				t.Errorf("%s imports %s, which docs/ARCHITECTURE.md does not allow", pkg, dep)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no dv imports checked; is go list working?")
	}
}

// ruleFor returns the package's rule key (its longest listed prefix) and
// its allowed imports, or nil for packages without rules.
func ruleFor(pkg string) (string, []string) {
	best := ""
	for k := range allowed {
		if (pkg == k || strings.HasPrefix(pkg, k+"/")) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return "", nil
	}
	return best, append([]string{}, allowed[best]...)
}

func permitted(dep, top string, rules []string) bool {
	if dep == top || strings.HasPrefix(dep, top+"/") {
		// Within its own tree, but objects/workspace is not objects (and
		// train/registry is not train: it has its own row).
		if k, _ := ruleFor(dep); k == top {
			return true
		}
	}
	for _, r := range rules {
		if k, _ := ruleFor(dep); k == r {
			return true
		}
	}
	return false
}
