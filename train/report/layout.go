package report

import (
	"fmt"
	"slices"
	"strings"
)

// GraphNode is one record of the lineage graph as the page draws it.
type GraphNode struct {
	ID     string   // record id (full hex)
	Type   string   // dataset, labels, import, run, model, ...
	Title  string   // name or path
	Lines  []string // short facts: version, id, commit, params
	Holder bool     // the alias holder the graph is drawn for

	layer, row int
	X, Y       int // top-left corner in the SVG
}

// GraphEdge is one provenance link, from what was used to what was made.
type GraphEdge struct {
	From, To string
	Label    string
	Path     string // SVG path data, set by layout
}

// Graph is a laid-out lineage graph.
type Graph struct {
	Nodes         []*GraphNode
	Edges         []*GraphEdge
	Width, Height int
}

const (
	nodeW, nodeH = 210, 64
	gapX, gapY   = 24, 40 // between nodes of a layer, between layers
	margin       = 12
)

// layout places the nodes in layers, top to bottom in the direction data
// flows: a node's layer is the longest path to it from a node nothing
// feeds (sources, imports), so every edge points right. Edges between
// versions of one thing ("previous") do not push a node right. Within a
// layer nodes keep the order they came in (oldest first), nudged toward
// the mean row of what feeds them.
func layout(g *Graph) {
	byID := map[string]*GraphNode{}
	for _, n := range g.Nodes {
		byID[n.ID] = n
	}
	in := map[string][]*GraphEdge{}
	for _, e := range g.Edges {
		if byID[e.From] != nil && byID[e.To] != nil && e.Label != "previous" {
			in[e.To] = append(in[e.To], e)
		}
	}
	// Longest path by repeated relaxation; the graph is acyclic (records
	// name only older records), and a cycle is cut after len(nodes) passes.
	for range len(g.Nodes) {
		changed := false
		for _, n := range g.Nodes {
			for _, e := range in[n.ID] {
				if l := byID[e.From].layer + 1; l > n.layer {
					n.layer, changed = l, true
				}
			}
		}
		if !changed {
			break
		}
	}
	layers := map[int][]*GraphNode{}
	maxLayer, maxRows := 0, 0
	for _, n := range g.Nodes {
		layers[n.layer] = append(layers[n.layer], n)
		maxLayer = max(maxLayer, n.layer)
	}
	for l := 0; l <= maxLayer; l++ {
		ns := layers[l]
		if l > 0 {
			// Order by the mean row of the nodes that feed each one.
			key := map[*GraphNode]float64{}
			for i, n := range ns {
				sum, cnt := 0.0, 0
				for _, e := range in[n.ID] {
					sum += float64(byID[e.From].row)
					cnt++
				}
				key[n] = float64(i) / 1000
				if cnt > 0 {
					key[n] += sum / float64(cnt)
				}
			}
			slices.SortStableFunc(ns, func(a, b *GraphNode) int {
				switch {
				case key[a] < key[b]:
					return -1
				case key[a] > key[b]:
					return 1
				}
				return 0
			})
		}
		for i, n := range ns {
			n.row = i
		}
		maxRows = max(maxRows, len(ns))
	}
	for _, n := range g.Nodes {
		// Center each layer's row horizontally.
		off := (maxRows - len(layers[n.layer])) * (nodeW + gapX) / 2
		n.X = margin + off + n.row*(nodeW+gapX)
		n.Y = margin + n.layer*(nodeH+gapY)
	}
	g.Width = 2*margin + max(maxRows, 1)*nodeW + max(maxRows-1, 0)*gapX
	g.Height = 2*margin + (maxLayer+1)*nodeH + maxLayer*gapY
	for _, e := range g.Edges {
		a, b := byID[e.From], byID[e.To]
		if a == nil || b == nil {
			continue
		}
		x1, y1 := a.X+nodeW/2, a.Y+nodeH
		x2, y2 := b.X+nodeW/2, b.Y
		if b.layer <= a.layer { // same layer (a previous version): from side to side
			x1, y1, x2, y2 = a.X+nodeW, a.Y+nodeH/2, b.X, b.Y+nodeH/2
			if b.X < a.X {
				x1, x2 = a.X, b.X+nodeW
			}
			e.Path = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, y1, x1, y1-30, x2, y2-30, x2, y2)
			continue
		}
		mid := (y1 + y2) / 2
		e.Path = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, y1, x1, mid, x2, mid, x2, y2-2)
	}
}

// clip shortens s to n runes, with an ellipsis.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
