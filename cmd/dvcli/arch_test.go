package dvcli

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// archRules reads the package table of docs/ARCHITECTURE.md: for each row,
// the packages of its first column (before any parenthesis) and what they
// may import (the backquoted packages of the last column; nil for
// "everything"). The table is the one statement of the import rules.
func archRules(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile("`([^`]+)`")
	rules := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			t.Fatalf("ARCHITECTURE.md: a table row without three columns: %s", line)
		}
		first, _, _ := strings.Cut(cells[0], "(")
		last := strings.TrimSpace(cells[len(cells)-1])
		var may []string
		switch {
		case last == "everything":
			may = nil
		case strings.HasPrefix(last, "nothing"):
			may = []string{}
		default:
			for _, m := range quoted.FindAllStringSubmatch(last, -1) {
				may = append(may, m[1])
			}
			if len(may) == 0 {
				t.Fatalf("ARCHITECTURE.md: row %q: the last column names no package", line)
			}
		}
		for _, m := range quoted.FindAllStringSubmatch(first, -1) {
			if _, dup := rules[m[1]]; dup {
				t.Fatalf("ARCHITECTURE.md: %s has two rows", m[1])
			}
			rules[m[1]] = may
		}
	}
	if len(rules) == 0 {
		t.Fatal("ARCHITECTURE.md: no package table found")
	}
	return rules
}

// TestImportDirection checks every dv package's imports against the
// table in docs/ARCHITECTURE.md, exactly: every package has a row (its own,
// or the row of the nearest path above it), every row names packages that
// exist, and every dv import is one its row allows.
func TestImportDirection(t *testing.T) {
	rules := archRules(t)
	out, err := exec.Command("go", "list", "-json", "github.com/dv-ml/dv/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/dv-ml/dv/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	used := map[string]bool{}
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
		top := ruleFor(rules, pkg)
		if top == "" {
			t.Errorf("%s has no row in docs/ARCHITECTURE.md's package table", pkg)
			continue
		}
		used[top] = true
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			checked++
			if strings.HasPrefix(dep, "cmd/") && !strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, "testscripts") {
				t.Errorf("%s imports %s: only cmd and testscripts may import cmd", pkg, dep)
			}
			if !permitted(rules, dep, top) {
				t.Errorf("%s imports %s, which its row (%s) in docs/ARCHITECTURE.md does not allow", pkg, dep, top)
			}
		}
	}
	for k := range rules {
		if !used[k] {
			t.Errorf("docs/ARCHITECTURE.md has a row for %s, which is no package", k)
		}
	}
	if checked == 0 {
		t.Fatal("no dv imports checked; is go list working?")
	}
}

// ruleFor returns the row that governs pkg: its own, or the one of the
// longest path above it ("" when none).
func ruleFor(rules map[string][]string, pkg string) string {
	best := ""
	for k := range rules {
		if (pkg == k || strings.HasPrefix(pkg, k+"/")) && len(k) > len(best) {
			best = k
		}
	}
	return best
}

// permitted says whether a package governed by row top may import dep:
// a package of its own row always, else one whose row the last column of
// top lists (nil: everything).
func permitted(rules map[string][]string, dep, top string) bool {
	dtop := ruleFor(rules, dep)
	if dtop == top || rules[top] == nil {
		return true
	}
	for _, r := range rules[top] {
		if dtop == r {
			return true
		}
	}
	return false
}
