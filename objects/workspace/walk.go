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

// list reads the entries of directory d (not below it).
func (w *walker) list(d *dirNode) error {
	s := w.s
	abs := filepath.Join(s.root, filepath.FromSlash(d.rel))
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
	key := append(make([]byte, 0, len(d.rel)+64), d.rel...)
	key = append(key, '/')
	var misses []fileJob
	var missAt []int // misses[i] is d.entries[missAt[i]]
	var hitAt []int  // entries the cache vouched for, when storing
	var hitSt []Stat // their stats
	var ptrs []string
	cur := s.cache.cursor()
	for _, name := range names {
		if name == ".git" || name == DirName {
			continue // never data: a nested repository or store
		}
		if strings.HasPrefix(name, checkoutTempPrefix) {
			s.removeTemp(filepath.Join(abs, name))
			continue
		}
		if err := objects.ValidName(name); err != nil {
			return fmt.Errorf("%s/%s: %w", d.rel, name, err)
		}
		var sys unix.Stat_t
		if err := ignoringEINTR(func() error { return unix.Fstatat(fd, name, &sys, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
			return &fs.PathError{Op: "lstat", Path: filepath.Join(abs, name), Err: err}
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
			target, err := os.Readlink(filepath.Join(abs, name))
			if err != nil {
				return err
			}
			if err := checkLink(rel, target); err != nil {
				return err
			}
			e.Type, e.Target = objects.EntrySymlink, target
		case t.IsRegular():
			e.Type, e.Size, e.Exec = objects.EntryFile, st.Size, st.Mode&0o100 != 0
			key = append(key[:len(d.rel)+1], name...)
			if s.findPointers && len(name) > len(pointer.Ext) && strings.HasSuffix(name, pointer.Ext) {
				ptrs = append(ptrs, d.rel+"/"+strings.TrimSuffix(name, pointer.Ext))
			}
			if id, ok := cur.lookup(key, st); ok {
				e.ID = id
				if s.w != nil {
					hitAt, hitSt = append(hitAt, len(d.entries)), append(hitSt, st)
				}
			} else {
				misses = append(misses, fileJob{rel: d.rel + "/" + name, st: st})
				missAt = append(missAt, len(d.entries))
			}
		default:
			return fmt.Errorf("%s/%s: special file (%s) cannot be tracked", d.rel, name, t)
		}
		d.entries = append(d.entries, e)
	}
	if len(d.subdirs) == 0 && len(misses) == 0 {
		// The entries are final: digest them here, in parallel with the
		// other directories, rather than in buildTree.
		d.digest, d.digestSet = treeDigest(d.entries), true
	}
	if len(hitAt) > 0 && !(d.digestSet && s.treeHeld(d)) {
		// Storing: each file the cache vouched for must still be in the
		// store, or it is read (and stored) again.
		for i, k := range hitAt {
			if e := &d.entries[k]; !s.w.Has(e.ID) {
				e.ID = objects.ID{}
				d.digestSet = false
				misses = append(misses, fileJob{rel: d.rel + "/" + e.Name, st: hitSt[i]})
				missAt = append(missAt, k)
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
	if len(ptrs) > 0 {
		w.mu.Lock()
		w.pointers = append(w.pointers, ptrs...)
		w.mu.Unlock()
	}
	if len(misses) > 0 {
		for i, k := range missAt {
			misses[i].e = &d.entries[k]
		}
		w.mu.Lock()
		w.files = append(w.files, misses...)
		w.mu.Unlock()
	}
	return nil
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
