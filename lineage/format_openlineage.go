package lineage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dv-ml/dv/objects"
)

// OpenLineage constants: dv's producer URI, the namespace of its jobs and
// datasets, and the schema versions its events and facets follow.
const (
	Producer           = "https://github.com/dv-ml/dv"
	OpenLineageNS      = "dv"
	runEventSchema     = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	sourceCodeSchema   = "https://openlineage.io/spec/facets/1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
	jobTypeSchema      = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	errorMessageSchema = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	versionSchema      = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
	documentSchema     = "https://openlineage.io/spec/facets/1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet"
	dvFacetSchema      = "https://github.com/dv-ml/dv/blob/main/docs/FORMATS.md#records"
)

// runNamespace derives OpenLineage run ids from record ids.
var runNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte(Producer+"/run"))

// RunID is the OpenLineage runId of a record: a name-based (version 5)
// UUID of the record id, so the same record always gets the same runId.
func RunID(id objects.ID) string { return uuid.NewSHA1(runNamespace, id[:]).String() }

type olEvent struct {
	EventType string      `json:"eventType"`
	EventTime string      `json:"eventTime"`
	Producer  string      `json:"producer"`
	SchemaURL string      `json:"schemaURL"`
	Run       olRun       `json:"run"`
	Job       olJob       `json:"job"`
	Inputs    []olDataset `json:"inputs"`
	Outputs   []olDataset `json:"outputs"`
}

type olRun struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

type olJob struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

type olDataset struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

func facet(schema string, fields map[string]any) map[string]any {
	fields["_producer"] = Producer
	fields["_schemaURL"] = schema
	return fields
}

// WriteOpenLineage writes one OpenLineage RunEvent (spec 2-0-2) per run
// and import record of sg, oldest first, one JSON object a line. A run's
// event is COMPLETE, or FAIL with an errorMessage facet; its job carries
// the source-code location (git, opts.RepoURL, the commit) and its inputs
// and outputs the data ids as dataset versions.
func WriteOpenLineage(w io.Writer, sg *Subgraph, opts FormatOptions) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	byID := map[objects.ID]*Record{}
	for _, n := range sg.Nodes {
		byID[n.ID] = n.Record
	}
	made := map[objects.ID][]*Record{} // a run's outputs that name the run
	for _, e := range sg.Edges {
		if e.Label == EdgeOutput {
			made[e.From] = append(made[e.From], byID[e.To])
		}
	}
	for _, n := range sg.Nodes {
		var ev *olEvent
		switch n.Type {
		case TypeRun:
			ev = runEvent(n, byID, made[n.ID], opts)
		case TypeImport:
			ev = importEvent(n, opts)
		default:
			continue
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func newEvent(n Entry, jobName, jobType string, opts FormatOptions) *olEvent {
	t := n.End
	if t.IsZero() {
		t = n.Time
	}
	ev := &olEvent{EventType: "COMPLETE", EventTime: t.UTC().Format(time.RFC3339Nano), Producer: Producer,
		SchemaURL: runEventSchema, Run: olRun{RunID: RunID(n.ID), Facets: map[string]any{
			"dv": facet(dvFacetSchema, map[string]any{"record": n.ID.String()}),
		}},
		Job: olJob{Namespace: OpenLineageNS, Name: jobName, Facets: map[string]any{
			"jobType": facet(jobTypeSchema, map[string]any{"processingType": "BATCH", "integration": "DV", "jobType": jobType}),
		}}, Inputs: []olDataset{}, Outputs: []olDataset{}}
	if u := sourceURL(opts.RepoURL); u != "" {
		f := map[string]any{"type": "git", "url": u, "repoUrl": opts.RepoURL}
		if n.Commit != "" {
			f["version"] = n.Commit
		}
		ev.Job.Facets["sourceCodeLocation"] = facet(sourceCodeSchema, f)
	}
	return ev
}

func runEvent(n Entry, byID map[objects.ID]*Record, made []*Record, opts FormatOptions) *olEvent {
	outRec := func(o IO) *Record {
		if r := byID[o.Record]; r != nil {
			return r
		}
		for _, r := range made {
			if r.Path == o.Path {
				return r
			}
		}
		return nil
	}
	jobType := "COMMAND"
	for _, o := range n.Outputs {
		if r := outRec(o); r != nil && r.Type == TypeModel {
			jobType = "MODEL"
		}
	}
	name := n.Name
	if name == "" && len(n.Command) > 0 {
		name = path.Base(n.Command[0])
	}
	if name == "" {
		name = "run-" + n.ID.Short()
	}
	ev := newEvent(n, name, jobType, opts)
	if n.Status == "failed" || n.ExitCode != 0 {
		ev.EventType = "FAIL"
		ev.Run.Facets["errorMessage"] = facet(errorMessageSchema, map[string]any{
			"message": fmt.Sprintf("command exited with status %d", n.ExitCode), "programmingLanguage": "shell"})
	}
	dv := ev.Run.Facets["dv"].(map[string]any)
	dv["command"], dv["params"], dv["status"], dv["exitCode"] = n.Command, n.Params, n.Status, n.ExitCode
	for _, in := range n.Inputs {
		ev.Inputs = append(ev.Inputs, dataset(in, byID[in.Record]))
	}
	for _, o := range n.Outputs {
		ev.Outputs = append(ev.Outputs, dataset(o, outRec(o)))
	}
	return ev
}

// importEvent describes an import as a job reading the source URL (a
// dataset in the URL's scheme://host namespace) and writing the path.
func importEvent(n Entry, opts FormatOptions) *olEvent {
	ev := newEvent(n, "import "+n.Path, "IMPORT", opts)
	if src, ok := sourceDataset(n.Source); ok {
		if v := firstNonEmpty(n.VersionID, n.ETag); v != "" {
			src.Facets = map[string]any{"version": facet(versionSchema, map[string]any{"datasetVersion": v})}
		}
		ev.Inputs = append(ev.Inputs, src)
	}
	ev.Outputs = append(ev.Outputs, dataset(IO{Path: n.Path, Data: n.Data}, n.Record))
	return ev
}

// sourceDataset names an import's source as OpenLineage does: a local
// file in namespace "file" by its path, else scheme://host and the path.
func sourceDataset(source string) (olDataset, bool) {
	u, err := url.Parse(source)
	switch {
	case strings.HasPrefix(source, "/"):
		return olDataset{Namespace: "file", Name: source}, true
	case err != nil || u.Scheme == "":
		return olDataset{}, false
	case u.Scheme == "file":
		return olDataset{Namespace: "file", Name: u.Path}, true
	}
	return olDataset{Namespace: u.Scheme + "://" + u.Host, Name: strings.TrimPrefix(u.Path, "/")}, true
}

func dataset(io IO, r *Record) olDataset {
	name := io.Path
	if name == "" && r != nil {
		name = r.Path
	}
	if name == "" {
		name = io.Data.String()
	}
	d := olDataset{Namespace: OpenLineageNS, Name: name, Facets: map[string]any{}}
	if !io.Data.IsZero() {
		d.Facets["version"] = facet(versionSchema, map[string]any{"datasetVersion": io.Data.String()})
	}
	if r != nil && r.Desc != "" {
		d.Facets["documentation"] = facet(documentSchema, map[string]any{"description": r.Desc})
	}
	return d
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// sourceURL turns a git remote or a local path into an absolute URI:
// "git@host:org/repo.git" becomes "ssh://git@host/org/repo.git", a path
// "file:///...". It is "" when repo is.
func sourceURL(repo string) string {
	switch {
	case repo == "":
		return ""
	case strings.Contains(repo, "://"):
		return repo
	case strings.HasPrefix(repo, "/"):
		return (&url.URL{Scheme: "file", Path: repo}).String()
	}
	if host, p, ok := strings.Cut(repo, ":"); ok && !strings.Contains(host, "/") {
		return "ssh://" + host + "/" + strings.TrimPrefix(p, "/")
	}
	return (&url.URL{Scheme: "file", Path: "/" + repo}).String()
}
