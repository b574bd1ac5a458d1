package lineage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/sync/errgroup"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// Edge labels: how the record To relates to the record From. Edges point
// the way data flows, from what was used to what was made.
const (
	EdgeInput     = "input"      // From is an input of the run To
	EdgeOutput    = "output"     // To is an output of the run From
	EdgeLabelsFor = "labels-for" // To is labels for the dataset version From
	EdgeImport    = "import"     // To was made from the import From
	EdgeMetrics   = "metrics"    // To is metrics observed for the model version From
	EdgeParent    = "parent"     // any other parent named by To
	EdgePrevious  = "previous"   // To is the next version of From
)

// edgeRank orders labels when two fields name the same pair of records:
// the most specific wins.
var edgeRank = map[string]int{EdgeInput: 0, EdgeOutput: 1, EdgeLabelsFor: 2, EdgeImport: 3,
	EdgeMetrics: 4, EdgeParent: 5, EdgePrevious: 6}

// Edge is one link of the provenance graph.
type Edge struct {
	From  objects.ID `json:"from"`
	To    objects.ID `json:"to"`
	Label string     `json:"label"`
}

// Entry is one record of the graph with its id and the refs that name it.
// In JSON the record's fields sit beside "id" and "refs".
type Entry struct {
	ID   objects.ID `json:"id"`
	Refs []string   `json:"refs,omitempty"`
	*Record
}

// Graph is the provenance graph reachable from a set of roots: every
// record named, directly or through other records, by a root's parents,
// previous versions, labels-for, run, inputs and outputs. It is read-only
// once loaded and safe for concurrent use.
type Graph struct {
	recs    map[objects.ID]*Record
	refs    map[objects.ID][]string
	up      map[objects.ID][]Edge // edges into a record, by To
	down    map[objects.ID][]Edge // edges out of a record, by From
	missing map[objects.ID]bool   // named but not in the store
}

// LoadRefs loads the graph reachable from every ref in rs, plus extra
// roots, and remembers which refs name which record.
func LoadRefs(ctx context.Context, s *objects.Store, rs *refs.Store, extra ...objects.ID) (*Graph, error) {
	return loadNamed(ctx, s, rs, extra, true)
}

// LoadUp loads only id and the records it came from, without earlier
// versions: all that Up(id) needs, read in time proportional to that
// lineage however large the store. Refs in rs name the records.
func LoadUp(ctx context.Context, s *objects.Store, rs *refs.Store, id objects.ID) (*Graph, error) {
	return loadNamed(ctx, s, rs, []objects.ID{id}, false)
}

// loadNamed loads from roots, and from every ref too when previous is
// set, and names the records refs point at.
func loadNamed(ctx context.Context, s *objects.Store, rs *refs.Store, roots []objects.ID, previous bool) (*Graph, error) {
	names, ids, err := rs.List()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	if previous { // the whole graph
		roots = slices.Clone(roots)
		for _, n := range names {
			roots = append(roots, ids[n])
		}
	}
	g, err := load(ctx, s, roots, previous)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := g.recs[ids[n]]; ok {
			g.refs[ids[n]] = append(g.refs[ids[n]], n)
		}
	}
	return g, nil
}

// LoadGraph reads every record reachable from roots. Roots that are not
// records are ignored; records that are named but absent from the store
// (not fetched yet) are reported by Missing. A record that is present but
// cannot be read is an error.
func LoadGraph(ctx context.Context, s *objects.Store, roots []objects.ID) (*Graph, error) {
	return load(ctx, s, roots, true)
}

// lazyLimit is how many records load reads one by one before it decodes
// the whole store's records at once: versions form long chains that
// cannot be followed in parallel, but the records of a store can be
// decoded on every CPU.
const lazyLimit = 256

// load walks the links from roots, following previous versions or not.
func load(ctx context.Context, s *objects.Store, roots []objects.ID, previous bool) (*Graph, error) {
	g := &Graph{recs: map[objects.ID]*Record{}, refs: map[objects.ID][]string{},
		up: map[objects.ID][]Edge{}, down: map[objects.ID][]Edge{}, missing: map[objects.ID]bool{}}
	var pre map[objects.ID]loaded // every record, once the walk is large
	stack := append([]objects.ID{}, roots...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := g.recs[id]; ok || g.missing[id] {
			continue
		}
		if l, ok := s.Lookup(id); !ok {
			g.missing[id] = true
			continue
		} else if l.Type != objects.TypeRecord {
			continue // not a record: nothing to follow
		}
		var rec *Record
		var err error
		if p, ok := pre[id]; ok {
			rec, err = p.rec, p.err
		} else if rec, err = loadRecord(ctx, s, id); err != nil {
			err = fmt.Errorf("record %s: %w", id.Short(), err)
		} else if pre == nil && len(g.recs) == lazyLimit {
			if pre, err = prefetch(ctx, s); err != nil {
				return nil, err
			}
		}
		if err != nil {
			return nil, err
		}
		g.recs[id] = rec
		stack = append(stack, recordLinks(rec, previous)...)
	}
	g.index()
	return g, nil
}

type loaded struct {
	rec *Record
	err error
}

// prefetch decodes every record in the store, in parallel. Errors are
// kept per record: only those the walk reaches matter.
func prefetch(ctx context.Context, s *objects.Store) (map[objects.ID]loaded, error) {
	var ids []objects.ID
	s.Each(func(l objects.Loc) {
		if l.Type == objects.TypeRecord {
			ids = append(ids, l.ID)
		}
	})
	out := make([]loaded, len(ids))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(ids)/64))
	eg, ctx := errgroup.WithContext(ctx)
	for w := range workers {
		eg.Go(func() error {
			for i := w; i < len(ids); i += workers {
				if err := ctx.Err(); err != nil {
					return err
				}
				rec, err := loadRecord(ctx, s, ids[i])
				if err != nil {
					err = fmt.Errorf("record %s: %w", ids[i].Short(), err)
				}
				out[i] = loaded{rec, err}
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	m := make(map[objects.ID]loaded, len(ids))
	for i, id := range ids {
		m[id] = out[i]
	}
	return m, nil
}

// decodeOpts make the v2 decoder accept what encoding/json accepts, and
// read ids without ID.UnmarshalText's copies.
var decodeOpts = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true),
	jsonv2.MatchCaseInsensitiveNames(true), jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(decodeID)))

// decodeID decodes 64 lowercase hex digits in place; anything else
// (escapes, errors, null) goes the usual way.
func decodeID(dec *jsontext.Decoder, id *objects.ID) error {
	if dec.PeekKind() != '"' {
		return errors.ErrUnsupported
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if raw := v[1 : len(v)-1]; len(raw) == 2*objects.IDSize && !bytes.ContainsAny(raw, `\ABCDEF`) {
		if _, err := hex.Decode(id[:], raw); err == nil {
			return nil
		}
	}
	b, err := jsontext.AppendUnquote(nil, v)
	if err != nil {
		return err
	}
	return id.UnmarshalText(b)
}

// loadRecord is Load with the decoder of encoding/json/v2 (the
// go-json-experiment mirror), which takes half the time of encoding/json
// for a record: decoding is most of the cost of loading a large graph.
// What it refuses, DecodeRecord gets a second chance at, so a record
// either decoder accepts is read.
func loadRecord(ctx context.Context, s *objects.Store, id objects.ID) (*Record, error) {
	b, err := s.LoadType(ctx, id, objects.TypeRecord)
	if err != nil {
		return nil, err
	}
	r := new(Record)
	if jsonv2.Unmarshal(b, r, decodeOpts) == nil && r.Version == RecordVersion && r.check() == nil {
		return r, nil
	}
	if r, err = DecodeRecord(b); err != nil {
		return nil, &objects.CorruptError{What: "record", Name: id.String(), Reason: err.Error(), Err: err}
	}
	return r, nil
}

// recordLinks returns every record id r names, its previous version only
// if asked.
func recordLinks(r *Record, previous bool) []objects.ID {
	out := append([]objects.ID{}, r.Parents...)
	if previous && !r.Previous.IsZero() {
		out = append(out, r.Previous)
	}
	for _, id := range []objects.ID{r.LabelsFor, r.Run} {
		if !id.IsZero() {
			out = append(out, id)
		}
	}
	for _, io := range append(append([]IO{}, r.Inputs...), r.Outputs...) {
		if !io.Record.IsZero() {
			out = append(out, io.Record)
		}
	}
	return out
}

// edgesOf returns the edges record id (r) declares.
func (g *Graph) edgesOf(id objects.ID, r *Record) []Edge {
	var out []Edge
	add := func(from, to objects.ID, label string) {
		if _, ok := g.recs[from]; !ok {
			return
		}
		if _, ok := g.recs[to]; ok {
			out = append(out, Edge{From: from, To: to, Label: label})
		}
	}
	for _, in := range r.Inputs {
		add(in.Record, id, EdgeInput)
	}
	for _, o := range r.Outputs {
		add(id, o.Record, EdgeOutput)
	}
	add(r.LabelsFor, id, EdgeLabelsFor)
	add(r.Run, id, EdgeOutput)
	for _, p := range r.Parents {
		add(p, id, g.parentLabel(r, p))
	}
	add(r.Previous, id, EdgePrevious)
	return out
}

func (g *Graph) parentLabel(r *Record, p objects.ID) string {
	pr := g.recs[p]
	switch {
	case r.LabelsFor == p:
		return EdgeLabelsFor
	case r.Type == TypeRun && !slices.ContainsFunc(r.Inputs, func(in IO) bool { return in.Record == p }):
		return EdgeParent // not an input: the run dv retrain repeated, the check that prompted it
	case r.Run == p, pr != nil && pr.Type == TypeRun:
		return EdgeOutput
	case r.Type == TypeRun:
		return EdgeInput
	case pr != nil && pr.Type == TypeImport:
		return EdgeImport
	case r.Type == TypeMetrics:
		return EdgeMetrics
	}
	return EdgeParent
}

// index builds the edge lists, one edge per pair of records: when two
// fields link the same pair (a run's output and the output's parent), the
// most specific label wins.
func (g *Graph) index() {
	for id, r := range g.recs {
		for _, e := range g.edgesOf(id, r) {
			es := g.up[e.To]
			i := slices.IndexFunc(es, func(x Edge) bool { return x.From == e.From })
			switch {
			case i < 0:
				g.up[e.To] = append(es, e)
			case edgeRank[e.Label] < edgeRank[es[i].Label]:
				es[i].Label = e.Label
			}
		}
	}
	for _, es := range g.up {
		for _, e := range es {
			g.down[e.From] = append(g.down[e.From], e)
		}
	}
}

func compareEdges(a, b Edge) int {
	if c := compareID(a.From, b.From); c != 0 {
		return c
	}
	if c := compareID(a.To, b.To); c != 0 {
		return c
	}
	return edgeRank[a.Label] - edgeRank[b.Label]
}

func compareID(a, b objects.ID) int { return bytes.Compare(a[:], b[:]) }

// byTime orders entries oldest first, then by id.
func byTime(a, b Entry) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return compareID(a.ID, b.ID)
}

// Len returns the number of records in the graph.
func (g *Graph) Len() int { return len(g.recs) }

// Entry returns the record id with its refs.
func (g *Graph) Entry(id objects.ID) (Entry, bool) {
	r, ok := g.recs[id]
	return Entry{ID: id, Refs: g.refs[id], Record: r}, ok
}

// Missing returns the ids records name that the store lacks, sorted.
func (g *Graph) Missing() []objects.ID { return sortedIDs(g.missing) }

func sortedIDs(m map[objects.ID]bool) []objects.ID {
	return slices.SortedFunc(maps.Keys(m), compareID)
}

// Filter selects log entries; the fields that are set must all match.
type Filter struct {
	Types []string   // record type or kind: dataset, labels, import, run, model, metrics, other
	Path  string     // the record's path is Path or below it, or a run read or wrote it
	Name  string     // the record's name
	Of    objects.ID // the record and everything it came from, earlier versions included
	Limit int        // at most this many entries; 0 means all
}

func (f *Filter) match(r *Record) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, r.Type) && (r.Kind == "" || !slices.Contains(f.Types, r.Kind)) {
		return false
	}
	if f.Name != "" && r.Name != f.Name {
		return false
	}
	if f.Path != "" && !underPath(r.Path, f.Path) && !ioUnder(r.Inputs, f.Path) && !ioUnder(r.Outputs, f.Path) {
		return false
	}
	return true
}

func underPath(p, dir string) bool {
	return p == dir || len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

func ioUnder(ios []IO, dir string) bool {
	for _, io := range ios {
		if underPath(io.Path, dir) {
			return true
		}
	}
	return false
}

// Log returns the records that match f, newest first (ties by id).
func (g *Graph) Log(f Filter) []Entry {
	var of map[objects.ID]bool
	if !f.Of.IsZero() {
		of = g.reach(f.Of, true, true)
	}
	out := make([]Entry, 0, len(g.recs))
	for id, r := range g.recs {
		if of != nil && !of[id] || !f.match(r) {
			continue
		}
		out = append(out, Entry{ID: id, Refs: g.refs[id], Record: r})
	}
	slices.SortFunc(out, func(a, b Entry) int { return byTime(b, a) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// reach returns id and the records reachable from it against the flow of
// data (up) or with it (down), following previous-version edges only when
// asked.
func (g *Graph) reach(id objects.ID, up, previous bool) map[objects.ID]bool {
	seen := map[objects.ID]bool{}
	if _, ok := g.recs[id]; !ok {
		return seen
	}
	stack := []objects.ID{id}
	seen[id] = true
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		edges, next := g.down[n], func(e Edge) objects.ID { return e.To }
		if up {
			edges, next = g.up[n], func(e Edge) objects.ID { return e.From }
		}
		for _, e := range edges {
			if e.Label == EdgePrevious && !previous || seen[next(e)] {
				continue
			}
			seen[next(e)] = true
			stack = append(stack, next(e))
		}
	}
	return seen
}

// Directions of a Subgraph.
const (
	Up   = "up"
	Down = "down"
)

// Subgraph is the lineage of one record: its nodes (oldest first), the
// edges between them, and the ids they name that the store lacks.
type Subgraph struct {
	Root      objects.ID   `json:"root"`
	Direction string       `json:"direction"`
	Nodes     []Entry      `json:"nodes"`
	Edges     []Edge       `json:"edges"`
	Missing   []objects.ID `json:"missing,omitempty"`
}

// Up returns what the record id was made from: runs, their inputs, labels,
// imports, and so on back to the sources. Earlier versions are not
// followed, but a previous-version edge between two nodes is kept.
func (g *Graph) Up(id objects.ID) (*Subgraph, error) { return g.sub(id, Up) }

// Down returns everything derived from the record id.
func (g *Graph) Down(id objects.ID) (*Subgraph, error) { return g.sub(id, Down) }

func (g *Graph) sub(id objects.ID, dir string) (*Subgraph, error) {
	if _, ok := g.recs[id]; !ok {
		return nil, fmt.Errorf("record %s: %w", id.Short(), objects.ErrNotFound)
	}
	nodes := g.reach(id, dir == Up, false)
	sg := &Subgraph{Root: id, Direction: dir, Nodes: make([]Entry, 0, len(nodes)), Edges: []Edge{}}
	missing := map[objects.ID]bool{}
	for n := range nodes {
		sg.Nodes = append(sg.Nodes, Entry{ID: n, Refs: g.refs[n], Record: g.recs[n]})
		for _, e := range g.down[n] {
			if nodes[e.To] {
				sg.Edges = append(sg.Edges, e)
			}
		}
		for _, l := range recordLinks(g.recs[n], false) {
			if g.missing[l] {
				missing[l] = true
			}
		}
	}
	slices.SortFunc(sg.Nodes, byTime)
	slices.SortFunc(sg.Edges, compareEdges)
	if len(missing) > 0 {
		sg.Missing = sortedIDs(missing)
	}
	return sg, nil
}
