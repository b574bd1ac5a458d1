// Package lineage is dv's provenance graph: immutable records (dataset and
// labels versions, imports, runs, model versions, metrics) stored as
// objects, each naming its parents, and the queries over them (log,
// lineage up and down, exports to DOT, Mermaid and OpenLineage).
package lineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dv-ml/dv/objects"
)

// RecordVersion is the record format version written by this code.
const RecordVersion = 1

// Record types.
const (
	TypeDataset = "dataset" // a version of tracked data of kind dataset or other
	TypeLabels  = "labels"  // a version of labels; LabelsFor names the dataset version
	TypeImport  = "import"  // data fetched from a URL
	TypeRun     = "run"     // a command run with pinned inputs
	TypeModel   = "model"   // a version of a model
	TypeMetrics = "metrics" // metrics observed for a model version
)

// Person is who wrote a record (from git config).
type Person struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// Env is where a run ran.
type Env struct {
	OS        string            `json:"os"`
	Arch      string            `json:"arch"`
	CPU       string            `json:"cpu,omitempty"`
	CPUs      int               `json:"cpus,omitempty"`
	Versions  map[string]string `json:"versions,omitempty"`   // go, python, dv, ...
	LockFiles map[string]string `json:"lock_files,omitempty"` // file name -> BLAKE3 of its content
}

// IO is one input or output of a run.
type IO struct {
	Path   string     `json:"path"`
	Data   objects.ID `json:"data"`            // content or tree id
	Record objects.ID `json:"record,omitzero"` // the version record of this data
}

// Record is one node of the provenance graph. Which fields are set
// depends on Type; Parents, Previous and Objects are what the graph and the
// store follow (docs/FORMATS.md, "Records").
type Record struct {
	Version int       `json:"version"`
	Type    string    `json:"type"`
	Time    time.Time `json:"time"`
	Who     Person    `json:"who"`
	Commit  string    `json:"commit"`          // git commit at the time ("" = no commit)
	Dirty   bool      `json:"dirty,omitempty"` // the work tree had uncommitted changes

	// Parents are the records this one was made from (provenance edges).
	Parents []objects.ID `json:"parents,omitempty"`
	// Previous is the earlier version of the same thing (history chain).
	Previous objects.ID `json:"previous,omitzero"`
	// Objects are data objects the record holds (logs, model data): kept by
	// gc, carried by push and pull. Data only named in Data is not held: a
	// dataset version's data is kept by the pointer files in git history.
	Objects []objects.ID `json:"objects,omitempty"`

	// Versions of data (dataset, labels, model).
	Path      string            `json:"path,omitempty"`
	Name      string            `json:"name,omitempty"`
	Kind      string            `json:"kind,omitempty"`
	Data      objects.ID        `json:"data,omitzero"`
	Size      int64             `json:"size,omitempty"`
	Files     int64             `json:"files,omitempty"`
	Desc      string            `json:"desc,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"` // source, license, pii, ...
	LabelsFor objects.ID        `json:"labels_for,omitzero"`

	// Imports.
	Source    string    `json:"source,omitempty"` // URL, never with credentials
	ETag      string    `json:"etag,omitempty"`
	VersionID string    `json:"version_id,omitempty"`
	FetchedAt time.Time `json:"fetched_at,omitzero"`

	// Runs.
	Command  []string          `json:"command,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	Inputs   []IO              `json:"inputs,omitempty"`
	Outputs  []IO              `json:"outputs,omitempty"`
	ExitCode int               `json:"exit_code,omitempty"`
	Status   string            `json:"status,omitempty"` // succeeded, failed
	Start    time.Time         `json:"start,omitzero"`
	End      time.Time         `json:"end,omitzero"`
	Log      objects.ID        `json:"log,omitzero"` // stdout and stderr, a file content id
	Env      *Env              `json:"env,omitempty"`
	CodeTree string            `json:"code_tree,omitempty"` // git tree of the commit
	CacheKey string            `json:"cache_key,omitempty"`

	// Models and metrics.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Run     objects.ID         `json:"run,omitzero"`
}

// Encode returns the record's canonical JSON (keys in a fixed order, maps
// sorted, no HTML escaping).
func (r *Record) Encode() ([]byte, error) {
	r.Version = RecordVersion
	if err := r.check(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeRecord parses and checks a record.
func DecodeRecord(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if r.Version != RecordVersion {
		return nil, fmt.Errorf("record: unsupported version %d", r.Version)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *Record) check() error {
	switch r.Type {
	case TypeDataset, TypeLabels, TypeImport, TypeRun, TypeModel, TypeMetrics:
	default:
		return fmt.Errorf("record: unknown type %q", r.Type)
	}
	if r.Time.IsZero() {
		return errors.New("record: no time")
	}
	return nil
}

// Links returns every id the record names, for gc and push: parents,
// previous version and objects.
func (r *Record) Links() []objects.ID {
	out := append([]objects.ID{}, r.Parents...)
	if !r.Previous.IsZero() {
		out = append(out, r.Previous)
	}
	out = append(out, r.Objects...)
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Put stores a record and returns its id.
func Put(ctx context.Context, w objects.Putter, r *Record) (objects.ID, error) {
	b, err := r.Encode()
	if err != nil {
		return objects.ID{}, err
	}
	return w.Put(ctx, objects.TypeRecord, b)
}

// Load reads and decodes a record.
func Load(ctx context.Context, s *objects.Store, id objects.ID) (*Record, error) {
	b, err := s.LoadType(ctx, id, objects.TypeRecord)
	if err != nil {
		return nil, err
	}
	r, err := DecodeRecord(b)
	if err != nil {
		return nil, &objects.CorruptError{What: "record", Name: id.String(), Reason: err.Error(), Err: err}
	}
	return r, nil
}
