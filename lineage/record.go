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
	"math"
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
	// TypePromotion is a registry decision on a model's alias (promoted,
	// rejected, forced, rolled back): one link of the model's event chain.
	TypePromotion = "promotion"
	TypeDrift     = "drift" // a drift check of current data against a reference
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

	Python       *PythonEnv    `json:"python,omitempty"`       // the interpreter of a Python command
	Accelerators []Accelerator `json:"accelerators,omitempty"` // GPUs, from nvidia-smi
	Image        string        `json:"image,omitempty"`        // the container image (by digest) the run ran in
}

// PythonEnv is the interpreter a Python command ran with and the
// distributions installed for it.
type PythonEnv struct {
	Executable string     `json:"executable"`
	Version    string     `json:"version"`
	Count      int        `json:"count"`             // installed distributions
	Packages   objects.ID `json:"packages,omitzero"` // a file of "name==version" lines, sorted, held by the run
}

// Accelerator is one GPU.
type Accelerator struct {
	Name   string `json:"name"`
	Driver string `json:"driver,omitempty"`
	CUDA   string `json:"cuda,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Job is where a run submitted to a compute engine ran.
type Job struct {
	Engine string `json:"engine"`         // slurm, kubernetes
	Target string `json:"target"`         // the compute: entry of dv.yaml
	ID     string `json:"id"`             // the engine's job id (Slurm job id, Kubernetes Job name)
	Node   string `json:"node,omitempty"` // the node (or pod) it ran on
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
	Job      *Job              `json:"job,omitempty"`    // set when the run ran on a compute engine
	Reason   string            `json:"reason,omitempty"` // why a failed run failed, when not its exit code

	// Models and metrics.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Run     objects.ID         `json:"run,omitzero"`
	// Number is a model version's sequence number (1, 2, ...: crop@v3),
	// its ref's previous version's number plus one.
	Number int `json:"number,omitempty"`
	// Skip, in a numbered chain (model versions by Number, promotion
	// events by Seq), names the record numbered n&(n-1) (n with its lowest
	// set bit cleared) when that is not 0, so that a version or a moment
	// is found in O(log² n) reads (Seek).
	Skip objects.ID `json:"skip,omitzero"`

	// Promotion events (Name is the model, Previous the model's previous
	// event: the chain).
	Promotion *Promotion `json:"promotion,omitempty"`

	// Drift checks: the data compared (each also a parent when it has a
	// record), the model version whose training data was the reference,
	// and the outcome.
	Reference *IO        `json:"reference,omitempty"`
	Current   *IO        `json:"current,omitempty"`
	Model     objects.ID `json:"model,omitzero"`
	Drift     *Drift     `json:"drift,omitempty"`
}

// Promotion is what a registry decision records.
type Promotion struct {
	Seq      int    `json:"seq"`              // 1 for a model's first event, then +1
	Alias    string `json:"alias"`            // the alias decided on
	Decision string `json:"decision"`         // promoted, rejected, forced, rolled-back
	Reason   string `json:"reason,omitempty"` // --reason, or why it was rejected
	// From is the version that held the alias before (zero: none), To the
	// candidate (promoted or not) or the version rolled back to.
	From objects.ID `json:"from,omitzero"`
	To   objects.ID `json:"to,omitzero"`
	// FromNumber and ToNumber are those versions' numbers (v2, v3).
	FromNumber int `json:"from_number,omitempty"`
	ToNumber   int `json:"to_number,omitempty"`
	// Prior is the alias's event beneath the one that gives To the alias:
	// what dv rollback returns to (zero: none).
	Prior objects.ID `json:"prior,omitzero"`
	// Holders maps each other alias of the model to the event that gave
	// it its holder (this event gives its own alias when it moved it): the
	// chain's head says who holds what.
	Holders map[string]objects.ID `json:"holders,omitempty"`
	// Checks is the evaluation table.
	Checks []Check `json:"checks,omitempty"`
}

// Check is one row of a promotion's evaluation table.
type Check struct {
	Metric    string   `json:"metric"`
	Slice     string   `json:"slice,omitempty"` // "" = overall
	Baseline  *float64 `json:"baseline"`
	Candidate *float64 `json:"candidate"`
	Change    *float64 `json:"change"` // candidate - baseline
	Rule      string   `json:"rule"`
	Result    string   `json:"result"` // pass, fail, skipped
	Note      string   `json:"note,omitempty"`
}

// Drift is the outcome of a drift check.
type Drift struct {
	Detected    bool          `json:"detected"` // the dataset drifted: Drifted ≥ Share × Checked
	Drifted     int           `json:"drifted"`
	Checked     int           `json:"checked"`
	Share       float64       `json:"dataset_share"`
	Approximate bool          `json:"approximate,omitempty"` // some column past the memory budget
	Columns     []DriftColumn `json:"columns"`
}

// DriftColumn is one column's test. Score is what was compared with
// Threshold: the p-value of a test (ks, chisquare, ztest; drift when
// below it), or the statistic of a distance (drift when at or above).
type DriftColumn struct {
	Column     string  `json:"column"`
	Type       string  `json:"type"` // numeric, categorical
	RefRows    int64   `json:"ref_rows"`
	CurRows    int64   `json:"cur_rows"`
	RefMissing int64   `json:"ref_missing,omitempty"`
	CurMissing int64   `json:"cur_missing,omitempty"`
	Method     string  `json:"method"`
	Statistic  Number  `json:"statistic"`
	PValue     *Number `json:"p_value,omitempty"`
	Score      Number  `json:"score"`
	Threshold  float64 `json:"threshold"`
	Drift      bool    `json:"drift"`
	ErrorBound float64 `json:"error_bound,omitempty"` // rank error of the sketch, as a share of rows
}

// Number is a float64 that JSON can hold when it is infinite or NaN
// (as the strings "Infinity", "-Infinity", "NaN").
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Number) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*n = Number(math.NaN())
	case `"Infinity"`:
		*n = Number(math.Inf(1))
	case `"-Infinity"`:
		*n = Number(math.Inf(-1))
	default:
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		*n = Number(f)
	}
	return nil
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
	case TypeDataset, TypeLabels, TypeImport, TypeRun, TypeModel, TypeMetrics, TypePromotion, TypeDrift:
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
