// Package pointer is the pointer-file format (docs/FORMATS.md): the small
// YAML file at PATH.dv that git versions in place of the data at PATH.
package pointer

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dv-ml/dv/objects"
)

// Ext is the suffix of pointer files: data at PATH has its pointer
// at PATH + Ext.
const Ext = ".dv"

// Version is the pointer format version written by this code.
const Version = 1

// Kinds of tracked data.
var Kinds = []string{"dataset", "labels", "model", "other"}

// Pointer is the content of a pointer file (docs/FORMATS.md).
type Pointer struct {
	Version   int               `yaml:"version"`
	Kind      string            `yaml:"kind"`
	Type      string            `yaml:"type"` // objects.EntryFile or objects.EntryDir
	OID       objects.ID        `yaml:"oid"`
	Size      int64             `yaml:"size"`
	Files     int64             `yaml:"files"`
	Exec      bool              `yaml:"exec,omitempty"`
	Name      string            `yaml:"name,omitempty"`
	Desc      string            `yaml:"desc,omitempty"`
	LabelsFor string            `yaml:"labels_for,omitempty"`
	Meta      map[string]string `yaml:"meta,omitempty"`
	Remote    string            `yaml:"remote,omitempty"`
	// Record is the provenance record of this version (dv log, lineage).
	Record objects.ID `yaml:"record,omitempty"`
	// Extra keeps keys this version does not know, so that rewriting a
	// pointer written by a newer dv loses nothing.
	Extra map[string]any `yaml:",inline"`
}

// MaxSize bounds what is read from a pointer file.
const MaxSize = 1 << 20

// Encode returns the pointer file's bytes: version first, then the known
// keys in a fixed order, then unknown keys sorted.
func (p *Pointer) Encode() ([]byte, error) {
	p.Version = Version
	if err := p.check(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode parses and checks a pointer file's bytes.
func Decode(b []byte) (*Pointer, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("pointer file too large (%d bytes)", len(b))
	}
	var p Pointer
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a valid pointer file: %s", oneLine(err.Error()))
	}
	if p.Version != Version {
		return nil, fmt.Errorf("unsupported pointer version %d", p.Version)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Pointer) check() error {
	if p.OID.IsZero() {
		return fmt.Errorf("pointer has no oid")
	}
	if p.Type != objects.EntryFile && p.Type != objects.EntryDir {
		return fmt.Errorf("pointer type %q is not file or dir", p.Type)
	}
	if !validKind(p.Kind) {
		return fmt.Errorf("pointer kind %q is not one of %s", p.Kind, strings.Join(Kinds, ", "))
	}
	if p.Size < 0 || p.Files < 0 {
		return fmt.Errorf("pointer has a negative size")
	}
	for k := range p.Extra {
		if k == "path" {
			return fmt.Errorf("pointer names a path; the data's path is the pointer's own without %s", Ext)
		}
	}
	return nil
}

func validKind(k string) bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// Read reads and parses the pointer file at path.
func Read(path string) (*Pointer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, MaxSize+1)
	n, _ := readFull(f, b)
	p, err := Decode(b[:n])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Write writes p to path atomically.
func Write(path string, p *Pointer) error {
	b, err := p.Encode()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return objects.WriteFileAtomic(path, b, 0o644)
}

// Entry returns the tree entry a pointer describes.
func (p *Pointer) Entry(name string) objects.TreeEntry {
	return objects.TreeEntry{Name: name, Type: p.Type, ID: p.OID, Size: p.Size, Files: p.Files, Exec: p.Exec}
}

// SortedMeta returns the metadata keys in order.
func (p *Pointer) SortedMeta() []string {
	keys := make([]string, 0, len(p.Meta))
	for k := range p.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
