package workspace

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeebo/blake3"
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

	w            *objects.Writer // put, when storing: cached ids must be in the store
	trustTrees   bool            // a held tree vouches for its files (no damaged index)
	findPointers bool            // refuse a directory holding pointer files (dv add)

	mu    sync.Mutex
	trees map[objects.ID]*objects.Tree // every tree built, for diffs
	racy  []racyFile

	bytesRead atomic.Int64
}

type racyFile struct {
	rel string
	st  Stat
	id  objects.ID
}

func newScanner(r *Repo, put objects.Putter) *scanner {
	s := &scanner{root: r.Root, put: put, cache: r.Cache, jobs: r.jobs(), onData: r.progress(),
		now: r.Now, trees: map[objects.ID]*objects.Tree{}}
	if w, ok := put.(*objects.Writer); ok {
		s.w = w
		s.trustTrees = r.Store != nil && len(r.Store.Damaged()) == 0
	}
	return s
}

// dirNode is a directory being scanned.
type dirNode struct {
	rel       string
	entries   []objects.TreeEntry // sorted by name; never grown past its capacity
	subdirs   []*dirNode          // in the same order as their entries
	subIdx    []int
	digest    [32]byte // treeDigest(entries), when digestSet
	digestSet bool
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
	st  Stat // taken before the file is read
	e   *objects.TreeEntry
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
		g.Go(func() error { return s.read(gctx, j.rel, j.st, j.e) })
	}
	return g.Wait()
}

// file fills e (size, exec bit, content id) for the regular file rel.
func (s *scanner) file(ctx context.Context, rel string, fi fs.FileInfo, e *objects.TreeEntry) error {
	st := StatOf(fi)
	e.Size, e.Exec = st.Size, st.Mode&0o100 != 0
	if id, ok := s.cache.Lookup(rel, st); ok && s.have(id) {
		e.ID = id
		s.report(st.Size)
		return nil
	}
	return s.read(ctx, rel, st, e)
}

// read hashes (and stores) the file's content; st is its stat, taken
// before.
func (s *scanner) read(ctx context.Context, rel string, st Stat, e *objects.TreeEntry) error {
	f, err := os.Open(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	jobs := 1
	if st.Size > 4*objects.ChunkMax {
		jobs = s.jobs
	}
	// Large files are chunked in segments in parallel (objects.PutFileAt);
	// the chunks are the serial chunker's.
	id, n, err := objects.PutFileAt(ctx, s.put, f, st.Size, jobs, func(n int64) {
		s.bytesRead.Add(n)
		s.report(n)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if n != st.Size {
		return fmt.Errorf("%s: changed while being read (%d bytes, expected %d)", rel, n, st.Size)
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
	return s.w == nil || s.w.Has(id)
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
		d.entries[d.subIdx[i]] = e
	}
	t := &objects.Tree{Entries: d.entries}
	var size, files int64
	for _, e := range d.entries {
		size += e.Size
		switch e.Type {
		case objects.EntryDir:
			files += e.Files
		case objects.EntryFile:
			files++
		}
	}
	slices.SortFunc(t.Entries, func(a, b objects.TreeEntry) int { return strings.Compare(a.Name, b.Name) })
	if !d.digestSet {
		d.digest = treeDigest(d.entries)
	}
	id, err := s.treeID(ctx, d.rel, t, d.digest)
	if err != nil {
		return objects.TreeEntry{}, err
	}
	s.mu.Lock()
	s.trees[id] = t
	s.mu.Unlock()
	return objects.TreeEntry{Type: objects.EntryDir, Size: size, Files: files, ID: id}, nil
}

// treeID stores tree t of the directory rel and returns its id. The stat
// cache remembers the id under the digest of the entries, so that an
// unchanged directory is neither encoded nor stored again (when storing,
// only while the store still holds it).
func (s *scanner) treeID(ctx context.Context, rel string, t *objects.Tree, digest [32]byte) (objects.ID, error) {
	t.Version = objects.TreeVersion
	if id, ok := s.cache.lookupTree(rel, digest); ok && s.have(id) {
		return id, nil
	}
	b, err := t.Encode()
	if err != nil {
		return objects.ID{}, fmt.Errorf("%s: %w", rel, err)
	}
	id, err := s.put.Put(ctx, objects.TypeTree, b)
	if err != nil {
		return objects.ID{}, err
	}
	s.cache.recordTree(rel, digest, id)
	return id, nil
}

// treeDigest is the BLAKE3 of the tree format version and of a directory's
// entries, sorted by name, each field of objects.TreeEntry written in a
// binary form with lengths before strings: equal digests are equal trees,
// whose encodings (and ids) are equal.
func treeDigest(entries []objects.TreeEntry) [32]byte {
	le := binary.LittleEndian
	b := make([]byte, 0, 32+len(entries)*(64+objects.IDSize))
	b = append(b, "dv tree digest 1\x00"...)
	b = le.AppendUint64(b, objects.TreeVersion)
	b = le.AppendUint64(b, uint64(len(entries)))
	for _, e := range entries {
		b = le.AppendUint32(b, uint32(len(e.Name)))
		b = append(b, e.Name...)
		b = le.AppendUint32(b, uint32(len(e.Type)))
		b = append(b, e.Type...)
		exec := byte(0)
		if e.Exec {
			exec = 1
		}
		b = append(b, exec)
		b = le.AppendUint64(b, uint64(e.Size))
		b = le.AppendUint64(b, uint64(e.Files))
		b = append(b, e.ID[:]...)
		b = le.AppendUint32(b, uint32(len(e.Target)))
		b = append(b, e.Target...)
	}
	return blake3.Sum256(b)
}

// settle records the files that were too recent to cache when read, if
// they are unchanged now that the racy margin has passed.
func (s *scanner) settle(ctx context.Context) {
	settleRacy(ctx, s.root, s.cache, s.racy)
	s.racy = nil
}
