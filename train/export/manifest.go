package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

// ManifestVersion is the version of manifest.json written by this code.
const ManifestVersion = 1

// Names inside every bundle.
const (
	ManifestName = "manifest.json" // the manifest, at the bundle's top
	ModelDir     = "model"         // the model's files, below this folder
)

// Manifest is a bundle's manifest.json: enough to trace the model to its
// run, data versions and commit without dv, and to check every file.
type Manifest struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"` // "dv-model-bundle"
	// Model is the exported model version.
	Model ModelInfo `json:"model"`
	// Metrics are the version's metrics (its run's when it has none).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Alias is the alias the version was exported by (MODEL@ALIAS), and
	// Aliases every alias that held it at export time.
	Alias   string   `json:"alias,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
	// Promotions are the registry events that gave each of Aliases to
	// this version, in the same order.
	Promotions []Promotion `json:"promotions,omitempty"`
	// Lineage is how the version was made; nil when it was added by hand.
	Lineage *Lineage `json:"lineage,omitempty"`
	// Files are the model's files, sorted by path.
	Files []File `json:"files"`
	// Dirs are the model's empty directories (the tree keeps them).
	Dirs []string `json:"dirs,omitempty"`
	// DV is the version of dv that wrote the bundle.
	DV string `json:"dv_version"`
}

// ModelInfo names the model version.
type ModelInfo struct {
	Name    string            `json:"name"`
	Number  int               `json:"number"` // 1 for the model's first version (v1)
	Record  objects.ID        `json:"record"`
	Path    string            `json:"path"`           // its path in the project
	Data    objects.ID        `json:"data"`           // dv content or tree id of the files
	Type    string            `json:"type"`           // file or dir
	Size    int64             `json:"size"`           // bytes of all files
	Time    time.Time         `json:"time"`           // when the version was recorded
	Who     lineage.Person    `json:"who"`            // who recorded it
	Commit  string            `json:"commit"`         // git commit ("" outside git)
	Dirty   bool              `json:"dirty"`          // the work tree had uncommitted changes
	Desc    string            `json:"desc,omitempty"` // description
	Meta    map[string]string `json:"meta,omitempty"` // license, source, ...
	Created time.Time         `json:"created"`        // the bundle's timestamp (Time or SOURCE_DATE_EPOCH)
}

// Promotion is the registry event that gave an alias to the version.
type Promotion struct {
	Event      objects.ID `json:"event"`
	Alias      string     `json:"alias"`
	Decision   string     `json:"decision"` // promoted, forced, rolled-back
	Seq        int        `json:"seq"`      // its place in the model's event chain
	Time       time.Time  `json:"time"`
	Who        string     `json:"who,omitempty"`
	Commit     string     `json:"commit,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	From       objects.ID `json:"from,omitzero"` // the version that held the alias before
	FromNumber int        `json:"from_number,omitempty"`
}

// Lineage summarises the run that made the version.
type Lineage struct {
	Run      objects.ID        `json:"run"`
	RunName  string            `json:"run_name,omitempty"`
	Command  []string          `json:"command,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	Inputs   []Input           `json:"inputs,omitempty"`
	Commit   string            `json:"commit"`
	Dirty    bool              `json:"dirty"`
	CodeTree string            `json:"code_tree,omitempty"`
	Start    time.Time         `json:"start,omitzero"`
	End      time.Time         `json:"end,omitzero"`
	Env      map[string]string `json:"env,omitempty"` // os, arch and tool versions
}

// Input is one input data version of the run.
type Input struct {
	Path   string     `json:"path"`
	Name   string     `json:"name,omitempty"`
	Type   string     `json:"type,omitempty"` // dataset, labels, model, ...
	Data   objects.ID `json:"data"`
	Record objects.ID `json:"record,omitzero"`
}

// File is one file of the model.
type File struct {
	Path   string     `json:"path"` // in the bundle: model/...
	Size   int64      `json:"size"`
	Mode   string     `json:"mode"`   // "0644" or "0755"
	SHA256 string     `json:"sha256"` // hex
	BLAKE3 string     `json:"blake3"` // hex, of the bytes (b3sum)
	ID     objects.ID `json:"id"`     // dv content id
}

// Exec reports whether the file is executable.
func (f *File) Exec() bool { return f.Mode == "0755" }

// Encode returns the manifest's canonical bytes (fixed key order, sorted
// maps, two-space indent, no HTML escaping, a final newline).
func (m *Manifest) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxManifest bounds the manifest a reader accepts.
const maxManifest = 64 << 20

// DecodeManifest parses and checks a manifest.json.
func DecodeManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%s: too large (%d bytes)", ManifestName, len(b))
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	if m.Version != ManifestVersion || m.Kind != bundleKind {
		return nil, fmt.Errorf("%s: not a dv bundle manifest of version %d", ManifestName, ManifestVersion)
	}
	for i, f := range m.Files {
		if err := checkBundlePath(f.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", ManifestName, err)
		}
		if i > 0 && m.Files[i-1].Path >= f.Path {
			return nil, fmt.Errorf("%s: files not sorted by path, or %s listed twice", ManifestName, f.Path)
		}
		if len(f.SHA256) != 64 || len(f.BLAKE3) != 64 || f.Size < 0 {
			return nil, fmt.Errorf("%s: %s: bad digest or size", ManifestName, f.Path)
		}
	}
	for _, d := range m.Dirs {
		if err := checkBundlePath(d); err != nil {
			return nil, fmt.Errorf("%s: %w", ManifestName, err)
		}
	}
	return &m, nil
}

const bundleKind = "dv-model-bundle"

// checkBundlePath refuses a path that is not a clean relative path below
// model/: a manifest must never name ../x or /etc/x.
func checkBundlePath(p string) error {
	if !strings.HasPrefix(p, ModelDir+"/") || path.Clean(p) != p || strings.Contains(p, "\\") {
		return fmt.Errorf("bad path %q: want a clean path below %s/", p, ModelDir)
	}
	for _, part := range strings.Split(p, "/")[1:] {
		if err := objects.ValidName(part); err != nil {
			return fmt.Errorf("bad path %q: %w", p, err)
		}
	}
	return nil
}

// errNotModel means the target names a record that is not a model version.
var errNotModel = errors.New("not a model version")

func modeString(exec bool) string {
	if exec {
		return "0755"
	}
	return "0644"
}
