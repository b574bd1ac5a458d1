package workspace

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// walkAll reads the directory tree below top, directories in parallel,
// and returns the regular files the stat cache could not vouch for.
func (s *scanner) walkAll(ctx context.Context, top *dirNode) ([]fileJob, error) {
	w := &walker{s: s}
	w.g.SetLimit(2 * s.jobs)
	w.g.Go(func() error { return w.walk(ctx, top) })
	if err := w.g.Wait(); err != nil {
		return nil, err
	}
	if len(w.pointers) > 0 {
		return nil, fmt.Errorf("%s: contains %s, which is tracked on its own", top.rel, slices.Min(w.pointers))
	}
	return w.files, nil
}

// treeHeld reports whether the store holds the tree that the stat cache
// remembers for directory d's entries (all files, each with its cached
// id, digested in d.digest): then it holds every file of d (a tree is stored after its entries,
// and collected with them), and one lookup vouches for them all. A store
// with a damaged index file gets no such trust.
func (s *scanner) treeHeld(d *dirNode) bool {
	if !s.trustTrees {
		return false
	}
	id, ok := s.cache.lookupTree(d.rel, d.digest)
	return ok && s.w.Has(id)
}

// walker collects the files of a parallel walk.
type walker struct {
	s        *scanner
	g        errgroup.Group
	mu       sync.Mutex
	files    []fileJob
	pointers []string // tracked paths found (with findPointers)
}

// walk reads directory d, filling its entries, walking its subdirectories
// (in other goroutines when a slot is free) and collecting the regular
// files to read. Like git, it costs one stat per file and nothing else
// when the stat cache knows the file: names come from the open directory
// (sorted, as trees are), each is stat'ed relative to it (fstatat: no path
// to resolve from the root), and the cache is looked up with a key built
// in one buffer.
func (w *walker) walk(ctx context.Context, d *dirNode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.list(d); err != nil {
		return err
	}
	for _, sub := range d.subdirs {
		if !w.g.TryGo(func() error { return w.walk(ctx, sub) }) {
			if err := w.walk(ctx, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirListing is what list gathers about one directory's entries.
type dirListing struct {
	abs    string
	fd     int
	cur    cacheCursor
	key    []byte    // d.rel + "/" + the name being looked up
	misses []fileJob // files the cache could not vouch for
	missAt []int     // misses[i] is d.entries[missAt[i]]
	hitAt  []int     // entries the cache vouched for, when storing
	hitSt  []Stat    // their stats
	ptrs   []string  // pointer files found
}

// list reads the entries of directory d (not below it).
func (w *walker) list(d *dirNode) error {
	abs := filepath.Join(w.s.root, filepath.FromSlash(d.rel))
	f, fd, err := openDir(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return &fs.PathError{Op: "readdirent", Path: abs, Err: err}
	}
	slices.Sort(names)
	// Entries are values in one slice that never grows (pointers to them
	// stay valid): no allocation per file, and the slice is the tree's.
	d.entries = make([]objects.TreeEntry, 0, len(names))
	l := &dirListing{abs: abs, fd: fd, cur: w.s.cache.cursor()}
	l.key = append(make([]byte, 0, len(d.rel)+64), d.rel...)
	l.key = append(l.key, '/')
	for _, name := range names {
		if err := w.entry(d, l, name); err != nil {
			return err
		}
	}
	w.settle(d, l)
	return nil
}

// entry adds the entry name of directory d, looking a regular file up in
// the stat cache.
func (w *walker) entry(d *dirNode, l *dirListing, name string) error {
	s := w.s
	if name == ".git" || name == DirName {
		return nil // never data: a nested repository or store
	}
	if strings.HasPrefix(name, checkoutTempPrefix) {
		s.removeTemp(filepath.Join(l.abs, name))
		return nil
	}
	if err := objects.ValidName(name); err != nil {
		return fmt.Errorf("%s/%s: %w", d.rel, name, err)
	}
	var sys unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstatat(l.fd, name, &sys, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return &fs.PathError{Op: "lstat", Path: filepath.Join(l.abs, name), Err: err}
	}
	st := statOfSys(&sys)
	e := objects.TreeEntry{Name: name}
	switch t := fs.FileMode(st.Mode).Type(); {
	case t.IsDir():
		e.Type = objects.EntryDir
		sub := &dirNode{rel: d.rel + "/" + name}
		d.subIdx = append(d.subIdx, len(d.entries))
		d.subdirs = append(d.subdirs, sub)
	case t&fs.ModeSymlink != 0:
		rel := d.rel + "/" + name
		target, err := os.Readlink(filepath.Join(l.abs, name))
		if err != nil {
			return err
		}
		if err := checkLink(rel, target); err != nil {
			return err
		}
		e.Type, e.Target = objects.EntrySymlink, target
	case t.IsRegular():
		e.Type, e.Size, e.Exec = objects.EntryFile, st.Size, st.Mode&0o100 != 0
		l.key = append(l.key[:len(d.rel)+1], name...)
		if s.findPointers && len(name) > len(pointer.Ext) && strings.HasSuffix(name, pointer.Ext) {
			l.ptrs = append(l.ptrs, d.rel+"/"+strings.TrimSuffix(name, pointer.Ext))
		}
		if id, ok := l.cur.lookup(l.key, st); ok {
			e.ID = id
			if s.w != nil {
				l.hitAt, l.hitSt = append(l.hitAt, len(d.entries)), append(l.hitSt, st)
			}
		} else {
			l.misses = append(l.misses, fileJob{rel: d.rel + "/" + name, st: st})
			l.missAt = append(l.missAt, len(d.entries))
		}
	default:
		return fmt.Errorf("%s/%s: special file (%s) cannot be tracked", d.rel, name, t)
	}
	d.entries = append(d.entries, e)
	return nil
}

// settle finishes directory d after its entries: its digest when final,
// the store check of what the cache vouched for, progress, and the files
// and pointers it hands to the walk.
func (w *walker) settle(d *dirNode, l *dirListing) {
	s := w.s
	if len(d.subdirs) == 0 && len(l.misses) == 0 {
		// The entries are final: digest them here, in parallel with the
		// other directories, rather than in buildTree.
		d.digest, d.digestSet = treeDigest(d.entries), true
	}
	if len(l.hitAt) > 0 && !(d.digestSet && s.treeHeld(d)) {
		// Storing: each file the cache vouched for must still be in the
		// store, or it is read (and stored) again.
		for i, k := range l.hitAt {
			if e := &d.entries[k]; !s.w.Has(e.ID) {
				e.ID = objects.ID{}
				d.digestSet = false
				l.misses = append(l.misses, fileJob{rel: d.rel + "/" + e.Name, st: l.hitSt[i]})
				l.missAt = append(l.missAt, k)
			}
		}
	}
	var hit int64
	for _, e := range d.entries {
		if e.Type == objects.EntryFile && !e.ID.IsZero() {
			hit += e.Size
		}
	}
	if hit > 0 {
		s.report(hit)
	}
	if len(l.ptrs) > 0 {
		w.mu.Lock()
		w.pointers = append(w.pointers, l.ptrs...)
		w.mu.Unlock()
	}
	if len(l.misses) > 0 {
		for i, k := range l.missAt {
			l.misses[i].e = &d.entries[k]
		}
		w.mu.Lock()
		w.files = append(w.files, l.misses...)
		w.mu.Unlock()
	}
}

// openDir opens a directory for reading its names, and returns its
// descriptor for fstatat. It opens it in blocking mode, as os.Open does
// not, which spares registering it with the network poller (three fcntl
// and a failing epoll_ctl).
func openDir(abs string) (*os.File, int, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(abs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, -1, &fs.PathError{Op: "open", Path: abs, Err: err}
	}
	return os.NewFile(uintptr(fd), abs), fd, nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// removeTemp removes a checkout's temporary file found by the walk: being
// written by a checkout, or left by a killed one, it is not data. It is
// removed only once its writer is gone or it is stale, so a running
// checkout keeps its file.
func (s *scanner) removeTemp(p string) {
	fi, err := os.Lstat(p)
	if err != nil {
		return
	}
	cutoff := s.now().Add(-TempAge)
	if tempOwnerGone(filepath.Base(p)) {
		cutoff = s.now().Add(time.Hour)
	}
	removeIfStale(p, fs.FileInfoToDirEntry(fi), cutoff)
}
