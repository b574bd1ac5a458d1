package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// tableRows lists the table's rows: each goal's comparisons (PERF.md) and
// figures given for information. Rows whose figures were not measured (a
// goal not selected, a peer not installed) are left out when printing.
func tableRows(b *bench) []row {
	w := b.w
	w1 := fmt.Sprintf("dv add W1 (%s)", humanBytes(w.w1Bytes))
	w2 := fmt.Sprintf("dv add W2 (%d files)", w.w2Files)
	zero := func(v float64) bool { return v == 0 }
	all := []row{
		{goal: "P1", what: w1, dv: "W1 dv add", ref: "W1 cp+sync", label: "cp + sync", maxRatio: 1.25, target: "≤ 1.25× (2 cores)"},
		{goal: "P1", what: w1, dv: "W1 dv add", ref: "W1 restic backup", label: "restic backup", maxRatio: 0.25, target: "≤ 0.25× (4× faster)"},
		{goal: "P1", what: w1, dv: "W1 dv add", ref: "W1 cp", label: "cp (no sync)", target: "info"},
		{goal: "P1", what: w1, dv: "W1 dv add", ref: "W1 b3sum", label: "b3sum", target: "info"},
		{goal: "P1", what: w1, dv: "W1 dv add", ref: "W1 git-lfs add", label: "git lfs: git add", target: "info"},
		{goal: "P1", what: "dv add W1: CPU time (user+sys)", dv: "W1 dv add cpu", unit: "s", target: "info"},
		{goal: "P1", what: "W1 stored bytes", dv: "W1 dv stored bytes", unit: "bytes", target: "info"},
		{goal: "P1", what: "W1 store size (packs, index, refs)", dv: "W1 dv store bytes", ref: "W1 restic repo bytes", label: "restic repository", unit: "bytes", target: "info"},
		{goal: "P8", what: "dv add W1: peak RSS (" + humanBytes(w.w1Bytes) + " file)", dv: "W1 dv add rss", unit: "bytes", worst: true, target: "≤ 128 MiB",
			pass: func(v float64) bool { return v <= 128<<20 }},

		{goal: "P2", what: w2, dv: "W2 dv add", ref: "W2 cp+sync", label: "cp -r + sync", maxRatio: 0.5, target: "≤ 0.5×"},
		{goal: "P2", what: w2, dv: "W2 dv add", ref: "W2 restic backup", label: "restic backup", maxRatio: 0.5, target: "≤ 0.5× (2× faster)"},
		{goal: "P2", what: w2, dv: "W2 dv add", ref: "W2 git-lfs add", label: "git lfs: git add", maxRatio: 0.1, target: "≤ 0.1× (10× faster)"},
		{goal: "P2", what: "files in .dv after add", dv: "W2 .dv files", unit: "count", worst: true, target: "< 200",
			pass: func(v float64) bool { return v < 200 }},
		{goal: "P2", what: "dv add W2: CPU time (user+sys)", dv: "W2 dv add cpu", unit: "s", target: "info"},
		{goal: "P2", what: "W2 stored bytes", dv: "W2 dv stored bytes", unit: "bytes", target: "info"},
		{goal: "P2", what: "W2 store size (packs, index, refs)", dv: "W2 dv store bytes", ref: "W2 restic repo bytes", label: "restic repository", unit: "bytes", maxRatio: 1, target: "≤ 1×"},
		{goal: "P2", what: "dv add W2: peak RSS", dv: "W2 dv add rss", unit: "bytes", worst: true, target: "info"},

		{goal: "P3", what: "dv status W3", dv: "W3 dv status", ref: "W3 git status", label: "git status", maxRatio: 1.2, target: "≤ 1.2×"},
		{goal: "P3", what: "dv status W3", dv: "W3 dv status", ref: "W3 find+stat", label: "find + stat", maxRatio: 2, target: "≤ 2×"},
		{goal: "P3", what: "dv add W3 (re-add)", dv: "W3 dv re-add", ref: "W3 find+stat", label: "find + stat", maxRatio: 2, target: "≤ 2×"},
		{goal: "P3", what: "dv status W3: CPU time (user+sys)", dv: "W3 dv status cpu", unit: "s", target: "info"},
		{goal: "P3", what: "dv status bytes_read", dv: "W3 status bytes_read", unit: "bytes", worst: true, target: "0", pass: zero},
		{goal: "P3", what: "dv add (re-add) bytes_read", dv: "W3 re-add bytes_read", unit: "bytes", worst: true, target: "0", pass: zero},

		{goal: "P4", what: "W4 v2: stored_bytes / CSV size", dv: "W4 v2 stored %", unit: "%", worst: true, target: "≤ 1.5 %",
			pass: func(v float64) bool { return v <= 1.5 }},
		{goal: "P4", what: "W4 v2: new_bytes / CSV size", dv: "W4 v2 new %", unit: "%", worst: true, target: "info"},
		{goal: "P4", what: "W4 v1: stored_bytes / CSV size", dv: "W4 v1 stored %", unit: "%", target: "info"},
		{goal: "P4", what: "dv add W4 v1", dv: "W4 dv add v1", unit: "s", target: "info"},
		{goal: "P4", what: "dv add W4 v2", dv: "W4 dv add v2", unit: "s", target: "info"},
		{goal: "P4", what: "W4 store size after v1 and v2", dv: "W4 dv store bytes", ref: "W4 restic repo bytes", label: "restic repository", unit: "bytes", maxRatio: 1, target: "≤ 1×"},

		{goal: "P10", what: "dv checkout W2", dv: "W2 dv checkout", ref: "W2 cp -r", label: "cp -r", maxRatio: 1, target: "≤ 1×"},
		{goal: "P10", what: "dv checkout W2: CPU time (user+sys)", dv: "W2 dv checkout cpu", unit: "s", target: "info"},
		{goal: "P10", what: "dv checkout W2", dv: "W2 dv checkout", ref: "W2 cp+sync", label: "cp -r + sync", target: "info"},
	}
	all = append(all, s3Rows(b)...)
	all = append(all, lineageRows(b)...)
	all = append(all, registryRows(b)...)
	all = append(all, driftRows(b)...)
	all = append(all, exportRows(b)...)
	all = append(all, realTreeRows(b)...)
	num := func(g string) int { n, _ := strconv.Atoi(strings.TrimPrefix(g, "P")); return n }
	slices.SortStableFunc(all, func(x, y row) int { return num(x.goal) - num(y.goal) })
	var rows []row
	for _, r := range all {
		if b.cfg.want(r.goal) {
			rows = append(rows, r)
		}
	}
	return rows
}
