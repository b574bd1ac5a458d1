package lineage

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WriteMermaid writes sg as a Mermaid flowchart (left to right), shaped
// and coloured by record type like WriteDOT. Node ids are "r" and the
// record's hex id; every label is a quoted string in which the characters
// Mermaid treats specially are written as entity codes.
func WriteMermaid(w io.Writer, sg *Subgraph) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("flowchart LR\n")
	fmt.Fprintf(bw, "  %%%% dv lineage --%s %s\n", sg.Direction, sg.Root)
	byType := map[string][]string{}
	for _, n := range sg.Nodes {
		st, ok := nodeStyle[n.Type]
		if !ok {
			st = nodeStyle[TypeRun]
		}
		lines := nodeLabel(n)
		for i, l := range lines {
			lines[i] = mermaidText(l)
		}
		id := "r" + n.ID.String()
		fmt.Fprintf(bw, "  %s%s%s%s\n", id, st.mermaidOpen, strings.Join(lines, "<br/>"), st.mermaidClose)
		byType[n.Type] = append(byType[n.Type], id)
	}
	for _, e := range sg.Edges {
		arrow := "-->"
		if e.Label == EdgePrevious {
			arrow = "-.->"
		}
		fmt.Fprintf(bw, "  r%s %s|\"%s\"| r%s\n", e.From, arrow, mermaidText(e.Label), e.To)
	}
	for _, typ := range slices.Sorted(maps.Keys(byType)) {
		if st, ok := nodeStyle[typ]; ok {
			fmt.Fprintf(bw, "  classDef %s fill:%s,stroke:#333\n", typ, st.fill)
			fmt.Fprintf(bw, "  class %s %s\n", strings.Join(byType[typ], ","), typ)
		}
	}
	bw.WriteString("  classDef root stroke-width:3px\n")
	fmt.Fprintf(bw, "  class r%s root\n", sg.Root)
	return bw.Flush()
}

// mermaidText makes s safe inside a quoted Mermaid label: quotes, '#',
// markup characters and backquotes become entity codes (#quot;, #35;, ...),
// control characters '?'.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString("#quot;")
		case r == '#' || r == '&' || r == '<' || r == '>' || r == '`' || r == '|':
			fmt.Fprintf(&b, "#%d;", r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
