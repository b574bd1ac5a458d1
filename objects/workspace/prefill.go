package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/dv-ml/dv/objects"
)

// Prefill writes the files of a coming checkout while a fetch downloads
// their chunks (dv pull): each chunk goes into its temporary file the
// moment it has been verified, instead of being read back from the store
// after the fetch. The checkout then renames the finished files into place
// (Checkout with CheckoutOptions.Prefill).
//
// A prefill is only ever a head start. The checkout decides, as always,
// what to write; a file it does not want, or that the prefill could not
// write (a directory in the way, an I/O error), is written the usual way
// and the temporary file is removed. Temporary files carry checkout's
// prefix and the writer's pid, so a killed pull leaves none behind for long
// (the next scan removes them) and never a torn file in place.
type Prefill struct {
	r *Repo

	mu    sync.Mutex
	slots map[objects.ID][]slot // chunk → where it goes
	files map[string]*preFile   // by path
	dirs  map[string]bool       // directories made or found real

	open   atomic.Int32 // files held open between chunks
	placed atomic.Int64 // files the checkout took
}

// prefillMin is the smallest file a prefill writes. Creating a file while
// the fetch writes and syncs packs costs several times what it costs in
// the checkout's own per-directory writers (20,000 files of 10 KiB pulled
// 1.5-2x slower that way), and reading a small file back from the store
// costs little; the gain is in large files.
const prefillMin = 1 << 20

// maxPrefillOpen bounds the files a prefill holds open between chunks;
// beyond it a file is opened for each chunk.
const maxPrefillOpen = 64

type slot struct {
	f *preFile
	i int // index into f.chunks
}

// preFile is one file being prefilled.
type preFile struct {
	mu     sync.Mutex
	rel    string
	e      objects.TreeEntry
	chunks []objects.ChunkRef
	offs   []int64
	got    []bool
	left   int      // slots not written yet
	tmp    string   // the temporary file; "" until the first chunk
	f      *os.File // open while more chunks are expected
	failed bool
}

// NewPrefill plans the files of paths (all tracked paths when empty) of at
// least prefillMin bytes whose content needs a blob the local store lacks. It reads the trees and lists
// from fetched (decoded objects a fetch holds but has not made readable in
// the store yet; remote.Fetched) or else from the store. What cannot be
// planned (a damaged tree, a path that is not there) is left to the
// checkout, which reports it.
func (r *Repo) NewPrefill(ctx context.Context, paths []string, fetched map[objects.ID][]byte) *Prefill {
	p := &Prefill{r: r, slots: map[objects.ID][]slot{}, files: map[string]*preFile{}, dirs: map[string]bool{}}
	targets, err := r.Targets(ctx, paths)
	if err != nil {
		return p
	}
	for rel, e := range targets {
		if r.safeParents(rel) == nil {
			p.plan(ctx, fetched, rel, e)
		}
	}
	return p
}

func (p *Prefill) plan(ctx context.Context, fetched map[objects.ID][]byte, rel string, e objects.TreeEntry) {
	if ctx.Err() != nil {
		return
	}
	switch e.Type {
	case objects.EntryDir:
		var t *objects.Tree
		var err error
		if b, ok := fetched[e.ID]; ok {
			t, err = objects.DecodeTree(b)
		} else {
			t, err = p.r.LoadTree(ctx, e.ID)
		}
		if err != nil {
			return
		}
		for _, c := range t.Entries {
			p.plan(ctx, fetched, rel+"/"+c.Name, c)
		}
	case objects.EntryFile:
		if e.Size < prefillMin {
			return
		}
		chunks, err := p.fileChunks(ctx, fetched, e)
		if err != nil {
			return
		}
		f := &preFile{rel: rel, e: e, chunks: chunks, offs: make([]int64, len(chunks)), got: make([]bool, len(chunks))}
		var off int64
		for i, c := range chunks {
			f.offs[i] = off
			off += int64(c.Size)
			if !p.r.Store.Has(c.ID) {
				p.slots[c.ID] = append(p.slots[c.ID], slot{f: f, i: i})
				f.left++
			}
		}
		if off != e.Size {
			return // a list that does not add up: the checkout refuses it
		}
		if f.left > 0 {
			p.files[rel] = f
		}
	}
}

// fileChunks returns the chunks of file e: a fetched list, or one chunk
// (e's id, a blob the fetch is about to bring), or what the store holds.
func (p *Prefill) fileChunks(ctx context.Context, fetched map[objects.ID][]byte, e objects.TreeEntry) ([]objects.ChunkRef, error) {
	if b, ok := fetched[e.ID]; ok {
		return objects.DecodeList(b)
	}
	if !p.r.Store.Has(e.ID) {
		// Not a list the fetch brought, nor held here: a blob that is
		// coming (a wrong guess only means no chunk ever arrives).
		return []objects.ChunkRef{{ID: e.ID, Size: uint32(e.Size)}}, nil
	}
	chunks, _, err := p.r.Store.FileChunks(ctx, e.ID)
	return chunks, err
}

// Blob writes a verified chunk wherever the planned files need it
// (remote.BlobSink). Errors are not returned: the file they hit is left to
// the checkout.
func (p *Prefill) Blob(id objects.ID, data []byte) {
	p.mu.Lock()
	ss := p.slots[id]
	delete(p.slots, id)
	p.mu.Unlock()
	for _, s := range ss {
		p.write(s.f, s.i, data)
	}
}

func (p *Prefill) write(f *preFile, i int, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed || f.got[i] {
		return
	}
	if len(data) != int(f.chunks[i].Size) {
		p.fail(f)
		return
	}
	if err := p.openFile(f); err != nil {
		p.fail(f)
		return
	}
	if _, err := f.f.WriteAt(data, f.offs[i]); err != nil {
		p.fail(f)
		return
	}
	f.got[i] = true
	f.left--
	if f.left == 0 || p.open.Load() > maxPrefillOpen {
		p.closeFile(f)
	}
}

// openFile opens f's temporary file, creating it (and the directories
// above it) at the first chunk.
func (p *Prefill) openFile(f *preFile) error {
	if f.f != nil {
		return nil
	}
	abs := p.r.Abs(f.rel)
	var file *os.File
	if f.tmp == "" {
		if err := p.mkdirs(parentOf(f.rel)); err != nil {
			return err
		}
		var err error
		if file, err = createTemp(filepath.Dir(abs), fileMode(f.e)); err != nil {
			return err
		}
		f.tmp = file.Name()
	} else {
		fd, err := syscall.Open(f.tmp, syscall.O_WRONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: f.tmp, Err: err}
		}
		file = os.NewFile(uintptr(fd), f.tmp)
	}
	f.f = file
	p.open.Add(1)
	return nil
}

func (p *Prefill) closeFile(f *preFile) error {
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	p.open.Add(-1)
	return err
}

// fail gives f up: its temporary file goes, and the checkout writes it.
func (p *Prefill) fail(f *preFile) {
	_ = p.closeFile(f)
	if f.tmp != "" {
		_ = os.Remove(f.tmp)
		f.tmp = ""
	}
	f.failed = true
}

// mkdirs makes the directory rel (slash-separated, "" for the root) and
// those above it, one level at a time, refusing anything in the way that is
// not a real directory: a symlink could lead the writes out of the work
// tree.
func (p *Prefill) mkdirs(rel string) error {
	if rel == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := strings.Split(rel, "/")
	for i := range parts {
		d := strings.Join(parts[:i+1], "/")
		if p.dirs[d] {
			continue
		}
		abs := p.r.Abs(d)
		if err := os.Mkdir(abs, 0o755); err != nil {
			if !errors.Is(err, fs.ErrExist) {
				return err
			}
			fi, err := os.Lstat(abs)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", d)
			}
		}
		p.dirs[d] = true
	}
	return nil
}

// take returns the finished temporary file for rel holding e's content,
// and its size, or ok false when the prefill has none (the checkout then
// writes the file itself). Chunks that did not come through Blob (held
// locally already, or brought in by an earlier read) are copied in from
// the store first.
func (p *Prefill) take(ctx context.Context, rel string, e objects.TreeEntry) (tmp string, ok bool, err error) {
	if p == nil {
		return "", false, nil
	}
	p.mu.Lock()
	f := p.files[rel]
	delete(p.files, rel)
	p.mu.Unlock()
	if f == nil {
		return "", false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed || f.tmp == "" || f.e.ID != e.ID || fileMode(f.e) != fileMode(e) {
		p.fail(f)
		return "", false, nil
	}
	for i, c := range f.chunks {
		if f.got[i] {
			continue
		}
		data, err := p.r.Store.LoadType(ctx, c.ID, objects.TypeBlob)
		if err == nil && len(data) != int(c.Size) {
			err = &objects.CorruptError{What: "list", Name: e.ID.String(), Reason: fmt.Sprintf("chunk %s has %d bytes, list says %d", c.ID.Short(), len(data), c.Size)}
		}
		if err == nil {
			err = p.openFile(f)
		}
		if err == nil {
			_, err = f.f.WriteAt(data, f.offs[i])
		}
		if err != nil {
			p.fail(f)
			return "", false, err
		}
		f.got[i] = true
	}
	err = p.closeFile(f)
	if perm := fileMode(e); err == nil && perm&^processUmask() != perm {
		err = os.Chmod(f.tmp, perm) // the umask took bits away (fixMode)
	}
	if err != nil {
		p.fail(f)
		return "", false, err
	}
	tmp, f.tmp = f.tmp, ""
	p.placed.Add(1)
	return tmp, true, nil
}

// Close removes the temporary files the checkout did not take. It may be
// called on a nil Prefill.
func (p *Prefill) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	files := p.files
	p.files = map[string]*preFile{}
	p.slots = map[objects.ID][]slot{}
	p.mu.Unlock()
	for _, f := range files {
		f.mu.Lock()
		p.fail(f)
		f.mu.Unlock()
	}
}

// fileMode is the mode a file of e gets.
func fileMode(e objects.TreeEntry) os.FileMode {
	if e.Exec {
		return 0o755
	}
	return 0o644
}
