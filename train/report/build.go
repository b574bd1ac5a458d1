package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/train/registry"
)

// Options say which model the page is about.
type Options struct {
	Model string // the model name; "" means the project's only model
	Alias string // the alias whose holder's lineage is drawn; "" means dv.yaml's promotion.alias, else production
	Now   func() time.Time
}

// ErrNoModel is returned when the project has no model to report on.
var ErrNoModel = errors.New("no model recorded yet (dv train -n MODEL ... records one)")

// Build reads what the page shows from the project's dv.yaml, refs and
// lineage records.
func Build(ctx context.Context, r *workspace.Repo, rs *refs.Store, o Options) (*Data, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	d := &Data{Generated: now(), Thresholds: map[string]float64{}, Alias: o.Alias}
	if err := readConfig(r.Root, d); err != nil {
		return nil, err
	}
	if d.Alias == "" {
		d.Alias = "production"
	}
	names, ids, err := rs.List()
	if err != nil {
		return nil, err
	}
	d.Model, err = pickModel(o.Model, names)
	if err != nil {
		return nil, err
	}
	g, err := lineage.LoadRefs(ctx, r.Store, rs)
	if err != nil {
		return nil, err
	}
	if len(g.Missing()) > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d records are not in the local store (dv pull fetches them); the page leaves them out", len(g.Missing())))
	}
	latest := ids[registry.ModelRef(d.Model)]
	d.Versions = versions(g, latest)
	nameOf := map[objects.ID]string{}
	for _, v := range d.Versions {
		id, _ := objects.ParseID(v.ID)
		nameOf[id] = v.Name()
	}
	h, err := registry.HolderOf(ctx, r.Store, rs, d.Model, d.Alias)
	if err != nil {
		return nil, err
	}
	holder := h.Version
	d.Holder = nameOf[holder]
	readEvents(g, d, nameOf)
	root := holder
	if root.IsZero() {
		root = latest
		if len(d.Versions) > 0 {
			d.Notes = append(d.Notes, fmt.Sprintf("no version holds %s yet: the lineage is that of the latest version", d.Alias))
		}
	}
	if !root.IsZero() {
		if sg, err := g.Up(root); err == nil {
			d.Lineage = graphOf(sg, root, nameOf)
		}
	}
	return d, nil
}

// pickModel returns the model asked for, or the only one there is.
func pickModel(want string, refNames []string) (string, error) {
	var models []string
	for _, n := range refNames {
		if m, ok := strings.CutPrefix(n, "models/"); ok && !strings.Contains(m, "/") {
			models = append(models, m)
		}
	}
	switch {
	case want != "" && slices.Contains(models, want):
		return want, nil
	case want != "":
		if len(models) == 0 {
			return "", fmt.Errorf("model %s: %w", want, ErrNoModel)
		}
		return "", fmt.Errorf("model %s: not recorded; models: %s", want, strings.Join(models, ", "))
	case len(models) == 1:
		return models[0], nil
	case len(models) == 0:
		return "", ErrNoModel
	}
	return "", fmt.Errorf("the project has %d models (%s): name one, dv report MODEL", len(models), strings.Join(models, ", "))
}

// versions walks the model's chain of versions back from latest and
// numbers them from the oldest, v1.
func versions(g *lineage.Graph, latest objects.ID) []Version {
	var out []Version
	seen := map[objects.ID]bool{}
	for id := latest; !id.IsZero() && !seen[id]; {
		seen[id] = true
		e, ok := g.Entry(id)
		if !ok || e.Record == nil {
			break
		}
		v := Version{N: e.Number, ID: id.String(), Time: e.Time, Commit: e.Commit, Metrics: e.Metrics}
		if run, ok := g.Entry(e.Run); ok && run.Record != nil {
			v.Run = paramsText(run.Params)
		}
		out = append(out, v)
		id = e.Previous
	}
	slices.Reverse(out)
	for i := range out {
		if out[i].N == 0 {
			out[i].N = i + 1
		}
	}
	return out
}

func paramsText(p map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(p) {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

// graphOf turns a lineage subgraph into the page's graph and lays it out.
func graphOf(sg *lineage.Subgraph, root objects.ID, nameOf map[objects.ID]string) *Graph {
	g := &Graph{}
	for _, n := range sg.Nodes {
		if n.Record == nil {
			continue
		}
		gn := &GraphNode{ID: n.ID.String(), Type: n.Type, Title: lineage.Title(n.Record), Holder: n.ID == root}
		first := n.ID.Short() + " · " + lineage.ShortCommit(n.Record)
		if v := nameOf[n.ID]; v != "" {
			first = v + " · " + first
		}
		gn.Lines = append(gn.Lines, first)
		switch {
		case n.Type == lineage.TypeRun && len(n.Params) > 0:
			gn.Lines = append(gn.Lines, paramsText(n.Params))
		case n.Type == lineage.TypeImport && n.Source != "":
			gn.Lines = append(gn.Lines, "from "+n.Source)
		case n.Size > 0:
			gn.Lines = append(gn.Lines, lineage.HumanBytes(n.Size)+" · "+lineage.TimeString(n.Time))
		default:
			gn.Lines = append(gn.Lines, lineage.TimeString(n.Time))
		}
		g.Nodes = append(g.Nodes, gn)
	}
	for _, e := range sg.Edges {
		g.Edges = append(g.Edges, &GraphEdge{From: e.From.String(), To: e.To.String(), Label: e.Label})
	}
	layout(g)
	return g
}

// readConfig takes the framing from dv.yaml: project, goal, KPI, primary
// metric, the promotion alias and the absolute thresholds of its
// criteria. The owners of these sections validate them; the page only
// reads what it can.
func readConfig(root string, d *Data) error {
	c, err := workspace.LoadConfig(root)
	if err != nil {
		return err
	}
	str := func(n *yaml.Node) string {
		if n != nil && n.Kind == yaml.ScalarNode {
			return n.Value
		}
		return ""
	}
	d.Project = str(c.Node("project"))
	d.Goal = str(c.Node("goal"))
	kpi := c.Node("kpi")
	d.KPI = str(child(kpi, "key")) // the metrics key that holds the KPI, when it differs from its name
	if d.KPI == "" {
		d.KPI = str(child(kpi, "name"))
	}
	if d.KPI == "" {
		d.KPI = str(kpi)
	}
	d.KPIHigher = str(child(kpi, "direction")) != "lower"
	d.Primary = str(child(c.Node("metrics"), "primary"))
	prom := c.Node("promotion")
	if a := str(child(prom, "alias")); a != "" && d.Alias == "" {
		d.Alias = a
	}
	if cr := child(prom, "criteria"); cr != nil && cr.Kind == yaml.SequenceNode {
		for _, n := range cr.Content {
			var t struct {
				Metric    string   `yaml:"metric"`
				Threshold *float64 `yaml:"threshold"`
			}
			if n.Decode(&t) == nil && t.Metric != "" && t.Threshold != nil {
				d.Thresholds[t.Metric] = *t.Threshold
			}
		}
	}
	return nil
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// WriteFile builds the page and writes it to path through a temporary
// file in the same directory, so a reader never sees half a page.
func WriteFile(ctx context.Context, r *workspace.Repo, rs *refs.Store, o Options, path string) (*Data, error) {
	d, err := Build(ctx, r, rs, o)
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if err := errors.Join(Render(f, d), f.Chmod(0o644), f.Close()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return nil, err
	}
	return d, nil
}
