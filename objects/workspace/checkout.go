package workspace

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/dv-ml/dv/objects"
)

// CheckoutOptions control Checkout.
type CheckoutOptions struct {
	Force bool // overwrite or delete files whose content is not in the store
	// Prefill holds files a fetch already wrote (NewPrefill); Checkout
	// renames those into place instead of writing them again.
	Prefill *Prefill
}

// CheckoutResult reports one tracked path.
type CheckoutResult struct {
	Path      string `json:"path"`
	Written   int64  `json:"written"`
	Removed   int64  `json:"removed"`
	Unchanged bool   `json:"unchanged"`
	Failed    int    `json:"failed"`
}

// checkoutTempPrefix starts the names of files being written by checkout;
// scans skip them, and remove those whose writer (the pid in the name) is
// gone on this host or that are older than TempAge (a killed checkout).
const checkoutTempPrefix = ".dv-checkout-"

// writerPool keeps the buffered writers of checkout: a fresh 256 KiB
// buffer per file was a fifth of checking out 100,000 small files.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 256<<10) }}

// ErrUnsaved means checkout would overwrite data that is not in the store.
var ErrUnsaved = errors.New("unsaved changes")

// Checkout makes the tracked paths (all when paths is empty) match their
// pointer files. Files whose data fails verification are not written; the
// error names each, and the other files are still checked out.
func (r *Repo) Checkout(ctx context.Context, paths []string, opts CheckoutOptions) ([]CheckoutResult, error) {
	targets, err := r.Targets(ctx, paths)
	if err != nil {
		return nil, err
	}
	rels := slices.Sorted(maps.Keys(targets))
	for _, rel := range rels {
		if err := r.safeParents(rel); err != nil {
			return nil, err
		}
	}
	work, _, err := r.WorkSnapshot(ctx, rels)
	if err != nil {
		return nil, err
	}
	var results []CheckoutResult
	var errs []error
	if len(paths) == 0 {
		removed, err := r.removeUntracked(ctx, targets)
		if err != nil {
			return nil, err
		}
		results = append(results, removed...)
	}
	for _, rel := range rels {
		target := targets[rel]
		cur, ok := work.Entries[rel]
		res := CheckoutResult{Path: rel}
		if ok && sameEntry(cur, target) {
			res.Unchanged = true
			results = append(results, res)
			continue
		}
		c := &checkout{r: r, work: work, force: opts.Force, pre: opts.Prefill}
		if !ok {
			// A file inside a tracked directory (dv pull data/a.csv) may
			// be checked out before its directory exists.
			parent := filepath.Dir(r.Abs(rel))
			c.ops = append(c.ops, func() error { return os.MkdirAll(parent, 0o755) })
		}
		var curp *objects.TreeEntry
		if ok {
			curp = &cur
		}
		if err := c.plan(ctx, rel, &target, curp); err != nil {
			return results, err
		}
		if len(c.unsaved) > 0 && !opts.Force {
			more := ""
			if len(c.unsaved) > 1 {
				more = fmt.Sprintf(" (and %d more)", len(c.unsaved)-1)
			}
			return results, fmt.Errorf("%s%s: %w not in the store; run dv add %s first, or checkout --force", c.unsaved[0], more, ErrUnsaved, rel)
		}
		err := c.apply(ctx)
		res.Written, res.Removed, res.Failed = c.written.Load(), c.removed, len(c.failed)
		results = append(results, res)
		errs = append(errs, c.failed...)
		if err != nil {
			errs = append(errs, err)
			break
		}
		settleRacy(ctx, r.Root, r.Cache, c.racy)
	}
	if err := r.Cache.Save(); err != nil {
		errs = append(errs, err)
	}
	if len(paths) == 0 && len(errs) == 0 {
		m := map[string]objects.ID{}
		for rel, t := range targets {
			m[rel] = t.ID
		}
		if err := r.setTracked(m); err != nil {
			errs = append(errs, err)
		}
	}
	return results, errors.Join(errs...)
}

// safeParents refuses a tracked path whose parent directories are
// symlinks: writing through them could leave the work tree.
func (r *Repo) safeParents(rel string) error {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		fi, err := os.Lstat(r.Abs(p))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: parent %s is not a directory (a symlink?); refusing to write through it", rel, p)
		}
	}
	return nil
}

type checkout struct {
	r     *Repo
	work  *Snapshot
	force bool
	pre   *Prefill // nil: every file is written here

	unsaved []string
	ops     []func() error // removals and directory changes, in order
	writes  []writeJob

	written  atomic.Int64
	removed  int64
	partJobs int // goroutines per large file (apply sets it)
	mu       sync.Mutex
	failed   []error
	racy     []racyFile
}

type writeJob struct {
	rel string
	e   objects.TreeEntry
}

// plan compares target with the current entry cur (nil when absent) and
// queues the changes.
func (c *checkout) plan(ctx context.Context, rel string, target, cur *objects.TreeEntry) error {
	if cur != nil && target != nil && sameEntry(*cur, *target) {
		return nil
	}
	switch {
	case cur == nil:
	case target != nil && cur.Type == target.Type && cur.Type != objects.EntrySymlink:
		// Replaced in place: a file by rename, a directory entry by entry.
		if cur.Type == objects.EntryFile {
			if err := c.noteUnsaved(rel, *cur); err != nil {
				return err
			}
		}
	default:
		if err := c.remove(rel, *cur); err != nil {
			return err
		}
	}
	if target == nil {
		return nil
	}
	switch target.Type {
	case objects.EntryFile:
		c.writes = append(c.writes, writeJob{rel: rel, e: *target})
	case objects.EntrySymlink:
		if err := checkLink(rel, target.Target); err != nil {
			return err
		}
		abs, link := c.r.Abs(rel), target.Target
		c.ops = append(c.ops, func() error { return os.Symlink(link, abs) })
	case objects.EntryDir:
		tt, err := c.r.LoadTree(ctx, target.ID)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		var ct *objects.Tree
		if cur != nil && cur.Type == objects.EntryDir {
			if ct = c.work.trees[cur.ID]; ct == nil {
				return fmt.Errorf("%s: internal error: work tree not scanned", rel)
			}
		} else {
			abs := c.r.Abs(rel)
			c.ops = append(c.ops, func() error { return os.MkdirAll(abs, 0o755) })
		}
		return c.children(ctx, rel, tt, ct)
	}
	return nil
}

func (c *checkout) children(ctx context.Context, rel string, tt, ct *objects.Tree) error {
	curByName := map[string]*objects.TreeEntry{}
	if ct != nil {
		for i := range ct.Entries {
			curByName[ct.Entries[i].Name] = &ct.Entries[i]
		}
	}
	for i := range tt.Entries {
		e := &tt.Entries[i]
		cur := curByName[e.Name]
		delete(curByName, e.Name)
		if err := c.plan(ctx, rel+"/"+e.Name, e, cur); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(curByName)) {
		if err := c.plan(ctx, rel+"/"+name, nil, curByName[name]); err != nil {
			return err
		}
	}
	return nil
}

// remove queues the removal of the current entry at rel, noting content
// that the store does not hold.
func (c *checkout) remove(rel string, cur objects.TreeEntry) error {
	if err := c.noteUnsaved(rel, cur); err != nil {
		return err
	}
	abs, n := c.r.Abs(rel), max(cur.Files, 1)
	c.ops = append(c.ops, func() error {
		c.r.Cache.Forget(rel)
		c.removed += n
		return os.RemoveAll(abs)
	})
	return nil
}

func (c *checkout) noteUnsaved(rel string, cur objects.TreeEntry) error {
	switch cur.Type {
	case objects.EntryFile:
		if !c.r.Store.Has(cur.ID) {
			c.unsaved = append(c.unsaved, rel)
		}
	case objects.EntryDir:
		t := c.work.trees[cur.ID]
		if t == nil {
			return fmt.Errorf("%s: internal error: work tree not scanned", rel)
		}
		for _, e := range t.Entries {
			if err := c.noteUnsaved(rel+"/"+e.Name, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply runs the queued changes: removals and directories in order, then
// file writes in parallel.
//
// Writers take whole directories (batches of writes that share a parent):
// creating and renaming a file lock its directory, and many writers in one
// directory queued on that lock made 16 cores slower than 2. A directory is
// split between writers only when there are fewer directories than writers.
func (c *checkout) apply(ctx context.Context) error {
	for _, op := range c.ops {
		if err := op(); err != nil {
			return err
		}
	}
	workers := 2 * c.r.jobs()
	// Large files are written in parts by several goroutines each; the
	// cores are shared between the large files, so that parts in flight
	// (and their buffers) stay about one per core.
	large := 0
	for _, j := range c.writes {
		if j.e.Size >= 2*objects.ParallelReadMin {
			large++
		}
	}
	c.partJobs = max(c.r.jobs()/max(large, 1), 1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, batch := range dirBatches(c.writes, workers) {
		g.Go(func() error {
			for _, j := range batch {
				if err := gctx.Err(); err != nil {
					return err
				}
				err := c.writeFile(gctx, j.rel, j.e)
				if err == nil {
					continue
				}
				var ce *objects.CorruptError
				var nf *objects.NotFoundError
				if errors.As(err, &ce) || errors.As(err, &nf) {
					c.mu.Lock()
					c.failed = append(c.failed, fmt.Errorf("%s: not written: %w", j.rel, err))
					c.mu.Unlock()
					continue
				}
				return fmt.Errorf("%s: %w", j.rel, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// dirBatches groups writes by parent directory (plan queues a directory's
// files together), splitting directories into smaller batches when there
// are fewer directories than workers, so that every worker has work.
func dirBatches(writes []writeJob, workers int) [][]writeJob {
	var dirs [][]writeJob
	for i := 0; i < len(writes); {
		j := i + 1
		dir := parentOf(writes[i].rel)
		for j < len(writes) && parentOf(writes[j].rel) == dir {
			j++
		}
		dirs = append(dirs, writes[i:j])
		i = j
	}
	if len(dirs) == 0 || len(dirs) >= workers {
		return dirs
	}
	per := (workers + len(dirs) - 1) / len(dirs) // batches per directory
	var out [][]writeJob
	for _, d := range dirs {
		size := max((len(d)+per-1)/per, 16)
		for len(d) > size {
			out = append(out, d[:size])
			d = d[size:]
		}
		out = append(out, d)
	}
	return out
}

func parentOf(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// writeFile writes the content of e to rel through a temporary file, so a
// damaged object never replaces the file, and a killed checkout leaves a
// temporary file (removed by the next scan) rather than a torn one. Work-tree
// files are not fsynced: they are copies of what the store holds durably
// (docs/RELIABILITY.md, "When dv syncs"). A file the prefill holds is
// renamed into place as it is.
func (c *checkout) writeFile(ctx context.Context, rel string, e objects.TreeEntry) error {
	abs := c.r.Abs(rel)
	tmp, ok, err := c.pre.take(ctx, rel, e)
	if err != nil {
		return err
	}
	if !ok {
		if tmp, err = c.fill(ctx, filepath.Dir(abs), e); err != nil {
			return err
		}
	}
	// syscall.Rename, not os.Rename: os.Rename first stats the target
	// to refuse replacing a directory, which rename(2) refuses anyway.
	if err := syscall.Rename(tmp, abs); err != nil {
		_ = os.Remove(tmp)
		return &os.LinkError{Op: "rename", Old: tmp, New: abs, Err: err}
	}
	c.written.Add(1)
	if c.r.OnData != nil {
		c.r.OnData(e.Size)
	}
	if fi, err := os.Lstat(abs); err == nil {
		st := StatOf(fi)
		if !c.r.Cache.Record(rel, st, e.ID) {
			c.mu.Lock()
			c.racy = append(c.racy, racyFile{rel: rel, st: st, id: e.ID})
			c.mu.Unlock()
		}
	}
	return nil
}

// fill writes the content of e into a new temporary file in dir and
// returns its name; on an error the file is gone.
func (c *checkout) fill(ctx context.Context, dir string, e objects.TreeEntry) (string, error) {
	// A list that does not add up to the tree's size is refused before a
	// file is created (it could otherwise fill the disk).
	if _, size, err := c.r.Store.FileChunks(ctx, e.ID); err != nil || size != e.Size {
		if err == nil {
			err = &objects.CorruptError{What: "object", Name: e.ID.String(), Reason: fmt.Sprintf("holds %d bytes, tree says %d", size, e.Size)}
		}
		return "", err
	}
	mode := fileMode(e)
	f, err := createTemp(dir, mode)
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	var n int64
	if e.Size >= 2*objects.ParallelReadMin && c.partJobs > 1 {
		// A large file: its parts are written by several cores at once.
		n, err = c.r.Store.ReadFileAt(ctx, e.ID, f, c.partJobs)
	} else {
		bw := writerPool.Get().(*bufio.Writer)
		bw.Reset(f)
		n, err = c.r.Store.ReadFile(ctx, e.ID, bw)
		if err == nil {
			err = bw.Flush()
		}
		bw.Reset(nil)
		writerPool.Put(bw)
	}
	if err == nil && n != e.Size {
		err = &objects.CorruptError{What: "object", Name: e.ID.String(), Reason: fmt.Sprintf("has %d bytes, tree says %d", n, e.Size)}
	}
	if err == nil {
		err = fixMode(f, mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}
