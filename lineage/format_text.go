package lineage

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/dv-ml/dv/objects"
)

// How an edge reads from the node printed above it, by direction.
var (
	upPhrase = map[string]string{EdgeInput: "input", EdgeOutput: "made by", EdgeLabelsFor: "labels for",
		EdgeImport: "imported by", EdgeMetrics: "metrics of", EdgeParent: "parent", EdgePrevious: "previous version"}
	downPhrase = map[string]string{EdgeInput: "read by", EdgeOutput: "made", EdgeLabelsFor: "labelled by",
		EdgeImport: "imported as", EdgeMetrics: "metrics", EdgeParent: "child", EdgePrevious: "next version"}
)

// WriteText writes sg as an indented tree from its root. Each node is
// one line (type, name and path, short id, time, who, commit) followed by
// its details: governance metadata (source, license, description, k=v),
// import source, run command and params, metrics. A node reached twice is
// expanded only the first time.
func WriteText(w io.Writer, sg *Subgraph) error {
	bw := bufio.NewWriter(w)
	t := textTree{w: bw, nodes: map[objects.ID]Entry{}, kids: map[objects.ID][]Edge{},
		seen: map[objects.ID]bool{}, up: sg.Direction == Up}
	for _, n := range sg.Nodes {
		t.nodes[n.ID] = n
	}
	for _, e := range sg.Edges {
		if t.up {
			t.kids[e.To] = append(t.kids[e.To], e)
		} else {
			t.kids[e.From] = append(t.kids[e.From], e)
		}
	}
	for _, es := range t.kids {
		t.sortKids(es)
	}
	t.node(sg.Root, "", "", "")
	if len(sg.Missing) > 0 {
		ids := make([]string, len(sg.Missing))
		for i, id := range sg.Missing {
			ids[i] = id.Short()
		}
		fmt.Fprintf(bw, "not in the local store (dv pull may fetch them): %s\n", strings.Join(ids, ", "))
	}
	return bw.Flush()
}

type textTree struct {
	w     *bufio.Writer
	nodes map[objects.ID]Entry
	kids  map[objects.ID][]Edge
	seen  map[objects.ID]bool
	up    bool
}

// sortKids orders a node's children: by edge label, then oldest first.
func (t *textTree) sortKids(es []Edge) {
	other := func(e Edge) Entry {
		if t.up {
			return t.nodes[e.From]
		}
		return t.nodes[e.To]
	}
	less := func(a, b Edge) bool {
		if a.Label != b.Label {
			return edgeRank[a.Label] < edgeRank[b.Label]
		}
		x, y := other(a), other(b)
		if !x.Time.Equal(y.Time) {
			return x.Time.Before(y.Time)
		}
		return compareID(x.ID, y.ID) < 0
	}
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && less(es[j], es[j-1]); j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// node prints id after lead (the tree branch and edge phrase), its details
// after indent, and its children below.
func (t *textTree) node(id objects.ID, lead, phrase, indent string) {
	e := t.nodes[id]
	if phrase != "" {
		phrase += ": "
	}
	fmt.Fprintf(t.w, "%s%s%s\n", lead, phrase, header(e))
	if t.seen[id] {
		return // its details and children are above
	}
	t.seen[id] = true
	kids := t.kids[id]
	bar := "    "
	if len(kids) > 0 {
		bar = "│   "
	}
	for _, d := range details(e) {
		fmt.Fprintf(t.w, "%s%s  %s\n", indent, bar, d)
	}
	for i, k := range kids {
		next, ph := k.From, upPhrase[k.Label]
		if !t.up {
			next, ph = k.To, downPhrase[k.Label]
		}
		branch, cont := "├── ", "│   "
		if i == len(kids)-1 {
			branch, cont = "└── ", "    "
		}
		if t.seen[next] {
			fmt.Fprintf(t.w, "%s%s%s: %s (see above)\n", indent, branch, ph, header(t.nodes[next]))
			continue
		}
		t.node(next, indent+branch, ph, indent+cont)
	}
}

func header(e Entry) string {
	return fmt.Sprintf("%s %s  %s  %s  %s  %s", e.Type, clean(Title(e.Record)), e.ID.Short(),
		TimeString(e.Time), clean(Who(e.Record)), ShortCommit(e.Record))
}

// details lists what a record says beyond its header, one item a line.
func details(e Entry) []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+": "+clean(v))
		}
	}
	var refs []string
	for _, r := range e.Refs {
		if !strings.HasPrefix(r, "runcache/") { // the run cache's bookkeeping
			refs = append(refs, r)
		}
	}
	add("refs", strings.Join(refs, ", "))
	switch {
	case e.Files > 0 || e.Size > 0:
		add("data", e.Data.Short()+", "+sizeText(e.Record))
	case !e.Data.IsZero():
		add("data", e.Data.Short())
	}
	add("source", e.Meta["source"])
	add("license", e.Meta["license"])
	add("desc", e.Desc)
	var meta []string
	for _, k := range slices.Sorted(maps.Keys(e.Meta)) {
		if k != "source" && k != "license" {
			meta = append(meta, k+"="+e.Meta[k])
		}
	}
	add("meta", strings.Join(meta, " "))
	if e.Type == TypeImport {
		add("source", e.Source)
		add("etag", e.ETag)
		add("version id", e.VersionID)
		if !e.FetchedAt.IsZero() {
			add("fetched", TimeString(e.FetchedAt))
		}
	}
	if e.Type == TypeRun {
		status := e.Status
		if e.ExitCode != 0 {
			status += fmt.Sprintf(" (exit %d)", e.ExitCode)
		}
		add("status", status)
		add("command", strings.Join(e.Command, " "))
		add("params", strings.Join(kvs(e.Params), " "))
		if e.Job != nil {
			add("job", JobText(e.Job))
		}
	}
	add("metrics", strings.Join(metricKVs(e.Metrics), " "))
	if d := e.Drift; d != nil {
		add("drift", DriftText(d))
	}
	return out
}
