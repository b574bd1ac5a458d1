package lineage

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// nodeStyle is how each record type looks in DOT and Mermaid.
var nodeStyle = map[string]struct{ dotShape, fill, mermaidOpen, mermaidClose string }{
	TypeDataset: {"cylinder", "#dbeafe", `[("`, `")]`},
	TypeLabels:  {"note", "#fef3c7", `>"`, `"]`},
	TypeImport:  {"folder", "#e0e7ff", `[/"`, `"/]`},
	TypeRun:     {"box", "#dcfce7", `("`, `")`},
	TypeModel:   {"box3d", "#fce7f3", `[["`, `"]]`},
	TypeMetrics: {"tab", "#f3f4f6", `{{"`, `"}}`},
	TypeDrift:   {"octagon", "#fee2e2", `{{"`, `"}}`},
}

// WriteDOT writes sg as a graphviz digraph, data flowing left to right:
// one node per record, shaped by type, labelled with type, name, short id
// and commit; one edge per link, labelled (previous-version links dashed).
// Render it with `dot -Tsvg`.
func WriteDOT(w io.Writer, sg *Subgraph) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "// dv lineage --%s %s\n", sg.Direction, sg.Root)
	bw.WriteString("digraph lineage {\n")
	bw.WriteString("  rankdir=LR;\n")
	bw.WriteString("  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n")
	bw.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for _, n := range sg.Nodes {
		st := nodeStyle[n.Type]
		extra := ""
		if n.ID == sg.Root {
			extra = ", penwidth=2"
		}
		fmt.Fprintf(bw, "  %s [label=%s, shape=%s, fillcolor=%s, tooltip=%s%s];\n", dotNode(n.ID.String()),
			dotString(strings.Join(nodeLabel(n), "\n")), st.dotShape, dotString(st.fill), dotString(n.ID.String()), extra)
	}
	for _, e := range sg.Edges {
		extra := ""
		if e.Label == EdgePrevious {
			extra = ", style=dashed"
		}
		fmt.Fprintf(bw, "  %s -> %s [label=%s%s];\n", dotNode(e.From.String()), dotNode(e.To.String()), dotString(e.Label), extra)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

func dotNode(hex string) string { return `"r` + hex + `"` }

// dotString quotes s as a DOT escString: backslashes and quotes escaped,
// newlines as \n (a centred line break), other control characters dropped.
func dotString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
