package objects

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tree entry types.
const (
	EntryFile    = "file"
	EntryDir     = "dir"
	EntrySymlink = "symlink"
)

// TreeVersion is the version of the tree format written by this code.
const TreeVersion = 1

// Tree is a directory: entries sorted by name (byte order), names unique.
type Tree struct {
	Version int         `json:"version"`
	Entries []TreeEntry `json:"entries"`
}

// TreeEntry is one name in a directory.
type TreeEntry struct {
	Name   string `json:"name"`
	Type   string `json:"type"`             // EntryFile, EntryDir or EntrySymlink
	Exec   bool   `json:"exec,omitempty"`   // file: the executable bit
	Size   int64  `json:"size"`             // file: its size; dir: bytes of all files below
	Files  int64  `json:"files,omitempty"`  // dir: number of files below
	ID     ID     `json:"id"`               // file: content (blob or list); dir: tree; symlink: zero
	Target string `json:"target,omitempty"` // symlink: the link text
}

// ValidName reports whether name may appear in a tree: not empty, not "."
// or "..", not ".git" or ".dv" (so checkout never writes a repository's
// config), valid UTF-8, and without "/" or NUL.
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("invalid name %q", name)
	case strings.EqualFold(name, ".git") || strings.EqualFold(name, ".dv"):
		// In any case: on a case-insensitive filesystem .GIT is .git.
		return fmt.Errorf("invalid name %q: reserved for git and dv", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("invalid name %q: contains a slash or NUL", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("invalid name %q: not UTF-8", name)
	}
	return nil
}

// Encode returns the canonical bytes of t after sorting its entries.
func (t *Tree) Encode() ([]byte, error) {
	t.Version = TreeVersion
	if t.Entries == nil {
		t.Entries = []TreeEntry{}
	}
	sort.Slice(t.Entries, func(i, j int) bool { return t.Entries[i].Name < t.Entries[j].Name })
	if err := t.check(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeTree parses and checks a tree object.
func DecodeTree(b []byte) (*Tree, error) {
	var t Tree
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("tree: %w", err)
	}
	if dec.More() {
		return nil, errors.New("tree: trailing data")
	}
	if t.Version != TreeVersion {
		return nil, fmt.Errorf("tree: unsupported version %d", t.Version)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *Tree) check() error {
	for i, e := range t.Entries {
		if err := ValidName(e.Name); err != nil {
			return fmt.Errorf("tree: %w", err)
		}
		if i > 0 && t.Entries[i-1].Name >= e.Name {
			return fmt.Errorf("tree: entries not sorted or duplicate name %q", e.Name)
		}
		if e.Size < 0 || e.Files < 0 {
			return fmt.Errorf("tree: %q: negative size", e.Name)
		}
		switch e.Type {
		case EntryFile, EntryDir:
			if e.ID.IsZero() {
				return fmt.Errorf("tree: %q: missing id", e.Name)
			}
			if e.Target != "" {
				return fmt.Errorf("tree: %q: target on a %s", e.Name, e.Type)
			}
		case EntrySymlink:
			if e.Target == "" || strings.Contains(e.Target, "\x00") || !e.ID.IsZero() {
				return fmt.Errorf("tree: %q: bad symlink", e.Name)
			}
		default:
			return fmt.Errorf("tree: %q: unknown type %q", e.Name, e.Type)
		}
	}
	return nil
}
