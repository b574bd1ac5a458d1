package workspace

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TopLevelKeys are the keys dv.yaml may hold at its top level. Each
// section is decoded by the package that owns it, through Section; this
// list only lets DecodeConfig refuse a misspelt key (promtion:) instead of
// ignoring it.
var TopLevelKeys = []string{
	"version", "project", "goal", "kpi", "metrics", "promotion", "drift",
	"retrain", "alerts", "serve", "compute", "remotes",
}

// SectionError is a bad value in dv.yaml: the line and the key path
// (promotion.criteria[1].direction) of what is wrong.
type SectionError struct {
	Line int
	Key  string
	Msg  string
}

func (e *SectionError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", ConfigFile, e.Line, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", ConfigFile, e.Key, e.Msg)
}

// Section decodes the top-level key of dv.yaml into v, a pointer to a
// struct (or map, slice, scalar) with yaml tags. It reports whether the key
// is present (a key with a null value counts as absent). Every mapping key
// must name a field of the struct it decodes into (at any depth), and every
// value must have its field's type: either is a *SectionError naming the
// line and the key path. Validation of values is the owner's: use
// SectionErr with Node for the line of a value that decodes but is wrong.
func (c *Config) Section(key string, v any) (bool, error) {
	n := c.Node(key)
	if n == nil {
		return false, nil
	}
	if err := checkKeys(n, reflect.TypeOf(v), key); err != nil {
		return true, err
	}
	if err := n.Decode(v); err != nil {
		return true, typeError(n, key, err)
	}
	return true, nil
}

// Node returns the YAML node of a top-level key (nil when absent or null),
// for owners that report the line of a value they refuse.
func (c *Config) Node(key string) *yaml.Node {
	if len(c.doc.Content) == 0 {
		return nil
	}
	top := c.doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == key {
			n := top.Content[i+1]
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return nil
			}
			return n
		}
	}
	return nil
}

// SectionErr makes a *SectionError for a value at node n (which may be
// nil: no line then).
func SectionErr(n *yaml.Node, key, format string, args ...any) error {
	e := &SectionError{Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	return e
}

// checkTopLevel refuses top-level keys that are not in TopLevelKeys.
func checkTopLevel(top *yaml.Node) error {
	for i := 0; i+1 < len(top.Content); i += 2 {
		k := top.Content[i]
		known := false
		for _, want := range TopLevelKeys {
			known = known || k.Value == want
		}
		if !known {
			return SectionErr(k, k.Value, "unknown key (known: %s)", strings.Join(TopLevelKeys, ", "))
		}
	}
	return nil
}

// checkKeys walks node n alongside type t and refuses a mapping key that
// names no field (and a duplicate key).
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t != nil && (t.Kind() == reflect.Pointer) {
		t = t.Elem()
	}
	if t == nil || n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return checkKeys(n.Alias, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the type error comes from Decode, with its line
		}
		if t == reflect.TypeOf(yaml.Node{}) {
			return nil
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if seen[k] {
				return SectionErr(n.Content[i], path+"."+k, "key given twice")
			}
			seen[k] = true
			ft, ok := fields[k]
			if !ok {
				return SectionErr(n.Content[i], path+"."+k, "unknown key (known: %s)", strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
			}
			if err := checkKeys(n.Content[i+1], ft, path+"."+k); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, e := range n.Content {
			if err := checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), path+"."+n.Content[i].Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// yamlFields maps the yaml names of t's exported fields (inline structs
// flattened) to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// typeError turns yaml's "line N: cannot unmarshal ..." into a
// *SectionError under key.
func typeError(n *yaml.Node, key string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		line := 0
		if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
			if _, rest, ok := strings.Cut(msg, ": "); ok {
				msg = rest
			}
			return &SectionError{Line: line, Key: key, Msg: msg}
		}
		return SectionErr(n, key, "%s", msg)
	}
	return SectionErr(n, key, "%s", oneLine(err.Error()))
}
