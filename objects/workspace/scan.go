package workspace

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dv-ml/dv/objects"
)

// scanner turns files on disk into objects: content through PutFile,
// directories into trees. With objects.HashOnly it only computes ids.
type scanner struct {
	root   string // work tree root
	put    objects.Putter
	cache  *StatCache
	jobs   int
	onData func(n int64) // progress: bytes read or skipped
	now    func() time.Time

	mu    sync.Mutex
	trees map[objects.ID]*objects.Tree // every tree built, for diffs
	racy  []racyFile

	files     atomic.Int64
	bytes     atomic.Int64
	bytesRead atomic.Int64
}

type racyFile struct {
	rel string
	st  Stat
	id  objects.ID
}

func newScanner(r *Repo, put objects.Putter) *scanner {
	return &scanner{root: r.Root, put: put, cache: r.Cache, jobs: r.jobs(), onData: r.progress(),
		now: r.Now, trees: map[objects.ID]*objects.Tree{}}
}

// dirNode is a directory being scanned.
type dirNode struct {
	rel     string
	entries []*objects.TreeEntry
	subdirs []*dirNode // in the same order as their entries
	subIdx  []int
}

// scan builds the tree entry for the work-tree path rel (file, symlink or
// directory), storing its objects through s.put.
func (s *scanner) scan(ctx context.Context, rel string) (objects.TreeEntry, error) {
	abs := filepath.Join(s.root, filepath.FromSlash(rel))
	fi, err := os.Lstat(abs)
	if err != nil {
		return objects.TreeEntry{}, err
	}
	name := path.Base(rel)
	switch {
	case fi.Mode().IsRegular():
		e := objects.TreeEntry{Name: name, Type: objects.EntryFile}
		if err := s.file(ctx, rel, fi, &e); err != nil {
			return e, err
		}
		return e, nil
	case fi.IsDir():
		top := &dirNode{rel: rel}
		files, err := s.walkAll(ctx, top)
		if err != nil {
			return objects.TreeEntry{}, err
		}
		if err := s.readFiles(ctx, files); err != nil {
			return objects.TreeEntry{}, err
		}
		e, err := s.buildTree(ctx, top)
		if err != nil {
			return e, err
		}
		e.Name = name
		return e, nil
	}
	return objects.TreeEntry{}, fmt.Errorf("%s: not a regular file or directory", rel)
}

type fileJob struct {
	rel string
	fi  fs.FileInfo
	e   *objects.TreeEntry
}

// walkAll reads the directory tree below top, directories in parallel,
// and returns the regular files the stat cache could not vouch for.
func (s *scanner) walkAll(ctx context.Context, top *dirNode) ([]fileJob, error) {
	w := &walker{s: s}
	w.g.SetLimit(2 * s.jobs)
	w.g.Go(func() error { return w.walk(ctx, top) })
	err := w.g.Wait()
	return w.files, err
}

// walker collects the files of a parallel walk.
type walker struct {
	s     *scanner
	g     errgroup.Group
	mu    sync.Mutex
	files []fileJob
}

// walk reads directory d, filling its entries, walking its subdirectories
// (in other goroutines when a slot is free) and collecting the regular
// files to read.
func (w *walker) walk(ctx context.Context, d *dirNode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := w.s
	abs := filepath.Join(s.root, filepath.FromSlash(d.rel))
	ents, err := os.ReadDir(abs)
	if err != nil {
		return err
	}
	for _, de := range ents {
		name := de.Name()
		if name == ".git" || name == DirName {
			continue // never data: a nested repository or store
		}
		if strings.HasPrefix(name, checkoutTempPrefix) {
			// Being written by a checkout, or left by a killed one: not
			// data. Removed only once its writer is gone or it is stale,
			// so a running checkout keeps its file.
			cutoff := s.now().Add(-TempAge)
			if tempOwnerGone(name) {
				cutoff = s.now().Add(time.Hour)
			}
			removeIfStale(filepath.Join(abs, name), de, cutoff)
			continue
		}
		rel := d.rel + "/" + name
		if err := objects.ValidName(name); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		e := &objects.TreeEntry{Name: name}
		switch t := de.Type(); {
		case t.IsDir():
			e.Type = objects.EntryDir
			sub := &dirNode{rel: rel}
			d.subIdx = append(d.subIdx, len(d.entries))
			d.subdirs = append(d.subdirs, sub)
			if !w.g.TryGo(func() error { return w.walk(ctx, sub) }) {
				if err := w.walk(ctx, sub); err != nil {
					return err
				}
			}
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(filepath.Join(abs, name))
			if err != nil {
				return err
			}
			if err := checkLink(rel, target); err != nil {
				return err
			}
			e.Type, e.Target = objects.EntrySymlink, target
		case t.IsRegular():
			fi, err := de.Info()
			if err != nil {
				return err
			}
			e.Type = objects.EntryFile
			if !s.cached(rel, fi, e) {
				w.mu.Lock()
				w.files = append(w.files, fileJob{rel: rel, fi: fi, e: e})
				w.mu.Unlock()
			}
		default:
			return fmt.Errorf("%s: special file (%s) cannot be tracked", rel, t)
		}
		d.entries = append(d.entries, e)
	}
	return nil
}

// checkLink refuses symlinks that are absolute or lead out of the work
// tree; dv stores links as links and never follows them.
func checkLink(rel, target string) error {
	if filepath.IsAbs(target) || strings.HasPrefix(target, "/") {
		return fmt.Errorf("%s: symlink to absolute path %q is not allowed", rel, target)
	}
	joined := path.Join(path.Dir(rel), filepath.ToSlash(target))
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return fmt.Errorf("%s: symlink %q points outside the work tree", rel, target)
	}
	// ".." after a name could climb out through another link ("t/.." is
	// not the lexical parent when t is a link), so it is only allowed
	// leading, where it climbs from the link's own, real directory.
	named := false
	for _, part := range strings.Split(filepath.ToSlash(target), "/") {
		switch {
		case part == "..":
			if named {
				return fmt.Errorf("%s: symlink %q has \"..\" after a name; dv refuses it (it could leave the work tree through another link)", rel, target)
			}
		case part != "." && part != "":
			named = true
		}
	}
	return nil
}

// readFiles reads every file job in parallel.
func (s *scanner) readFiles(ctx context.Context, jobs []fileJob) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.jobs * 2)
	for i := range jobs {
		j := jobs[i]
		g.Go(func() error { return s.read(gctx, j.rel, j.fi, j.e) })
	}
	return g.Wait()
}

// cached fills e's size and exec bit for the regular file rel, and its
// content id when the stat cache vouches for it (then it reports true).
func (s *scanner) cached(rel string, fi fs.FileInfo, e *objects.TreeEntry) bool {
	e.Size = fi.Size()
	e.Exec = fi.Mode()&0o100 != 0
	s.files.Add(1)
	s.bytes.Add(fi.Size())
	if id, ok := s.cache.Lookup(rel, StatOf(fi)); ok && s.have(id) {
		e.ID = id
		s.report(fi.Size())
		return true
	}
	return false
}

// file fills e (size, exec bit, content id) for the regular file rel.
func (s *scanner) file(ctx context.Context, rel string, fi fs.FileInfo, e *objects.TreeEntry) error {
	if s.cached(rel, fi, e) {
		return nil
	}
	return s.read(ctx, rel, fi, e)
}

// read hashes (and stores) the file's content.
func (s *scanner) read(ctx context.Context, rel string, fi fs.FileInfo, e *objects.TreeEntry) error {
	st := StatOf(fi)
	f, err := os.Open(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	jobs := 1
	if fi.Size() > 4*objects.ChunkMax {
		jobs = s.jobs
	}
	// Large files are chunked in segments in parallel (objects.PutFileAt);
	// the chunks are the serial chunker's.
	id, n, err := objects.PutFileAt(ctx, s.put, f, fi.Size(), jobs, func(n int64) {
		s.bytesRead.Add(n)
		s.report(n)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if n != fi.Size() {
		return fmt.Errorf("%s: changed while being read (%d bytes, expected %d)", rel, n, fi.Size())
	}
	e.ID = id
	if !s.cache.Record(rel, st, id) {
		s.mu.Lock()
		s.racy = append(s.racy, racyFile{rel: rel, st: st, id: id})
		s.mu.Unlock()
	}
	return nil
}

// have reports whether id can be trusted from the cache: when storing, the
// store must still hold it.
func (s *scanner) have(id objects.ID) bool {
	if w, ok := s.put.(*objects.Writer); ok {
		return w.Has(id)
	}
	return true
}

func (s *scanner) report(n int64) {
	if s.onData != nil {
		s.onData(n)
	}
}

// buildTree stores the trees below d, bottom up, and returns d's entry.
func (s *scanner) buildTree(ctx context.Context, d *dirNode) (objects.TreeEntry, error) {
	for i, sub := range d.subdirs {
		e, err := s.buildTree(ctx, sub)
		if err != nil {
			return e, err
		}
		e.Name = d.entries[d.subIdx[i]].Name
		*d.entries[d.subIdx[i]] = e
	}
	t := &objects.Tree{Entries: make([]objects.TreeEntry, len(d.entries))}
	var size, files int64
	for i, e := range d.entries {
		t.Entries[i] = *e
		size += e.Size
		switch e.Type {
		case objects.EntryDir:
			files += e.Files
		case objects.EntryFile:
			files++
		}
	}
	sort.Slice(t.Entries, func(i, j int) bool { return t.Entries[i].Name < t.Entries[j].Name })
	b, err := t.Encode()
	if err != nil {
		return objects.TreeEntry{}, fmt.Errorf("%s: %w", d.rel, err)
	}
	id, err := s.put.Put(ctx, objects.TypeTree, b)
	if err != nil {
		return objects.TreeEntry{}, err
	}
	s.mu.Lock()
	s.trees[id] = t
	s.mu.Unlock()
	return objects.TreeEntry{Type: objects.EntryDir, Size: size, Files: files, ID: id}, nil
}

// settle records the files that were too recent to cache when read, if
// they are unchanged now that the racy margin has passed.
func (s *scanner) settle(ctx context.Context) {
	settleRacy(ctx, s.root, s.cache, s.racy)
	s.racy = nil
}
