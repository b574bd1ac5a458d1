package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// AddOptions describe the data being added.
type AddOptions struct {
	Kind      string // dataset (default), labels, model, other
	Name      string
	Desc      string
	LabelsFor string
	Meta      map[string]string
	// Annotate, when set, runs once the data is stored, with the writer
	// (objects it puts land in the same pack), the new pointer and the
	// previous one (nil for a new path); it may set fields such as Record.
	// The commit it returns, if any, runs after the objects are durable and
	// before the pointer file is written (to move refs).
	Annotate func(ctx context.Context, w objects.Putter, p *pointer.Pointer, prev *pointer.Pointer) (commit func(context.Context) error, err error)
}

// Validate checks the options.
func (o *AddOptions) Validate() error {
	if o.Kind != "" && !slices.Contains(pointer.Kinds, o.Kind) {
		return fmt.Errorf("--kind %q: must be one of %s", o.Kind, strings.Join(pointer.Kinds, ", "))
	}
	if o.LabelsFor != "" && o.Kind != "labels" {
		if o.Kind != "" && o.Kind != "dataset" {
			return fmt.Errorf("--labels-for needs --kind labels, not %s", o.Kind)
		}
		o.Kind = "labels"
	}
	for k := range o.Meta {
		if k == "" || strings.ContainsAny(k, "=\n") {
			return fmt.Errorf("--meta key %q is not valid", k)
		}
	}
	return nil
}

// AddResult reports one added path.
type AddResult struct {
	Path        string           `json:"path"`
	ID          objects.ID       `json:"oid"`
	Type        string           `json:"type"`
	Files       int64            `json:"files"`
	Bytes       int64            `json:"bytes"`
	BytesRead   int64            `json:"bytes_read"`
	NewObjects  int              `json:"new_objects"`
	NewBytes    int64            `json:"new_bytes"`    // decoded size of new objects
	StoredBytes int64            `json:"stored_bytes"` // their compressed size
	Unchanged   bool             `json:"unchanged"`
	Pointer     *pointer.Pointer `json:"-"`
}

// Add stores the file or directory at the work-tree path rel and writes
// its pointer file. Objects are durable and indexed before the pointer is
// written, so an interrupted Add leaves the old pointer (or none).
func (r *Repo) Add(ctx context.Context, rel string, opts AddOptions) (*AddResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if strings.HasSuffix(rel, pointer.Ext) {
		return nil, fmt.Errorf("%s: names ending in %s are pointer files", rel, pointer.Ext)
	}
	if err := r.checkNotInsideTracked(rel); err != nil {
		return nil, err
	}
	if err := r.safeParents(rel); err != nil {
		return nil, err
	}
	unlock, err := r.Store.Lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()

	indexBefore, _ := indexFiles(filepath.Join(r.Dir, objects.IndexDir))
	w := r.Store.NewWriter()
	s := newScanner(r, w)
	s.findPointers = true // rel must not contain tracked paths: refused before any file is read
	e, err := s.scan(ctx, rel)
	if err != nil {
		w.Abort()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or directory", rel)
		}
		return nil, err
	}
	if e.Type == objects.EntrySymlink {
		w.Abort()
		return nil, fmt.Errorf("%s: is a symlink; add the file or directory it points to", rel)
	}
	ptrPath := r.Abs(rel) + pointer.Ext
	p, prev := newPointer(ptrPath, e, opts)
	ws := w.Stats() // the data's figures, before any record is added
	var commit func(context.Context) error
	if opts.Annotate != nil {
		if commit, err = opts.Annotate(ctx, w, p, prev); err != nil {
			w.Abort()
			return nil, err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return nil, err
	}
	if commit != nil {
		if err := commit(ctx); err != nil {
			return nil, err
		}
	}
	s.settle(ctx)
	// The data is indexed now (and gc is held off by the store lock): a
	// status need not read the index to know it.
	r.noteStored(indexBefore, e.ID)
	if err := r.Cache.Save(); err != nil {
		return nil, err
	}
	res := &AddResult{Path: rel, ID: e.ID, Type: e.Type, Files: p.Files, Bytes: e.Size,
		BytesRead: s.bytesRead.Load(), NewObjects: ws.Objects, NewBytes: ws.RawBytes,
		StoredBytes: ws.StoredBytes, Pointer: p}
	old, _ := os.ReadFile(ptrPath)
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	res.Unchanged = string(old) == string(b)
	if !res.Unchanged {
		if err := objects.WriteFileAtomic(ptrPath, b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := AddIgnore(r.Root, rel); err != nil {
		return res, err
	}
	return res, r.noteTracked(rel, e.ID)
}

// newPointer returns the pointer for entry e at ptrPath, and the pointer
// it replaces (nil when new): the previous version's metadata and unknown
// keys are kept, the options' settings applied.
func newPointer(ptrPath string, e objects.TreeEntry, opts AddOptions) (p, prev *pointer.Pointer) {
	p = &pointer.Pointer{}
	if old, err := pointer.Read(ptrPath); err == nil {
		p = old // keep metadata and unknown keys of the previous version
		cp := *old
		cp.Meta = maps.Clone(old.Meta)
		prev = &cp
	}
	switch {
	case opts.Kind != "":
		p.Kind = opts.Kind
	case p.Kind == "":
		p.Kind = "dataset" // a new path; a re-add keeps the kind it had
	}
	p.Type, p.OID, p.Size, p.Exec = e.Type, e.ID, e.Size, e.Exec
	p.Files = e.Files
	if e.Type == objects.EntryFile {
		p.Files = 1
	}
	if opts.Name != "" {
		p.Name = opts.Name
	}
	if opts.Desc != "" {
		p.Desc = opts.Desc
	}
	if opts.LabelsFor != "" {
		p.LabelsFor = opts.LabelsFor
	}
	for k, v := range opts.Meta {
		if p.Meta == nil {
			p.Meta = map[string]string{}
		}
		p.Meta[k] = v
	}
	return p, prev
}

// checkNotInsideTracked refuses to track a path inside another tracked
// directory. (A path containing tracked paths is refused by the scan,
// which reads every directory below it anyway.)
func (r *Repo) checkNotInsideTracked(rel string) error {
	if inside := r.insideTracked(rel); inside != "" {
		return fmt.Errorf("%s: inside %s, which is tracked as a whole; run dv add %s", rel, inside, inside)
	}
	return nil
}

// insideTracked returns the tracked directory that rel lies in, or "".
func (r *Repo) insideTracked(rel string) string {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], "/")
		if fi, err := os.Stat(r.Abs(parent) + pointer.Ext); err == nil && fi.Mode().IsRegular() {
			return parent
		}
	}
	return ""
}

// Nesting says how the work-tree path rel nests with tracked data: inside
// is the tracked directory rel lies in, contains the first tracked path
// below rel (each "" when none). It looks at rel's parents and below rel
// only, never at the rest of the work tree: a venv/ or node_modules/
// beside rel costs nothing.
func (r *Repo) Nesting(ctx context.Context, rel string) (inside, contains string, err error) {
	if inside := r.insideTracked(rel); inside != "" {
		return inside, "", nil
	}
	if fi, err := os.Lstat(r.Abs(rel)); err != nil || !fi.IsDir() {
		return "", "", nil // a file contains nothing
	}
	var below []string
	if err := walkPointers(ctx, r.Root, rel, func(p string) { below = append(below, p) }); err != nil {
		return "", "", err
	}
	if len(below) > 0 {
		sort.Strings(below)
		contains = below[0]
	}
	return "", contains, nil
}

// Pointers returns the work-tree paths of all tracked data (pointer files
// found under the root, without their suffix), sorted. It walks the whole
// work tree (not tracked directories), and stops when ctx ends.
func (r *Repo) Pointers(ctx context.Context) ([]string, error) {
	var out []string
	err := walkPointers(ctx, r.Root, "", func(rel string) { out = append(out, rel) })
	sort.Strings(out)
	return out, err
}

func walkPointers(ctx context.Context, root, rel string, fn func(string)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := root
	if rel != "" {
		dir = root + "/" + rel
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	tracked := map[string]bool{}
	for _, e := range ents {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, pointer.Ext) && len(n) > len(pointer.Ext) {
			tracked[strings.TrimSuffix(n, pointer.Ext)] = true
			fn(join(rel, strings.TrimSuffix(n, pointer.Ext)))
		}
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || n == ".git" || n == DirName || tracked[n] {
			continue
		}
		if err := walkPointers(ctx, root, join(rel, n), fn); err != nil {
			return err
		}
	}
	return nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
