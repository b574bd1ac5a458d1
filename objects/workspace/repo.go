package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// DirName is the name of dv's directory at the work tree's root.
const DirName = ".dv"

// ErrNotRepo means no .dv directory was found.
var ErrNotRepo = errors.New("not a dv project (no .dv directory here or in any parent; run dv init)")

// Repo is a dv project: a work tree with a .dv directory at its root.
type Repo struct {
	Root   string // absolute work tree root
	Dir    string // Root/.dv
	Store  *objects.Store
	Cache  *StatCache
	Now    func() time.Time
	Jobs   int           // parallelism; 0 means the number of CPUs
	OnData func(n int64) // progress callback: bytes processed, may be nil

	storeMu sync.Mutex // OpenStore
}

// Init creates .dv (store, .gitignore) in root. It is idempotent.
func Init(root string) error {
	dir := filepath.Join(root, DirName)
	if err := objects.Init(dir); err != nil {
		return err
	}
	gi := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(gi); errors.Is(err, fs.ErrNotExist) {
		if err := objects.WriteFileAtomic(gi, []byte("# dv's store and caches are not for git\n*\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Find returns the work tree root at or above start: the nearest
// directory with a .dv directory, or else the nearest with a dv.yaml (a
// fresh clone of a dv project, whose .dv is not in git: Find creates it).
func Find(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	clone := ""
	for {
		if fi, err := os.Stat(filepath.Join(dir, DirName)); err == nil && fi.IsDir() {
			if err := finishInit(dir); err != nil {
				return "", err
			}
			return dir, nil
		}
		if fi, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil && fi.Mode().IsRegular() && clone == "" {
			clone = dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if clone == "" {
		return "", ErrNotRepo
	}
	if err := Init(clone); err != nil {
		return "", err
	}
	return clone, nil
}

// finishInit completes the store of a project (dv.yaml beside .dv) that a
// dv killed while creating it left without its folders (every later
// command failed to open it until dv init was run by hand) or without its
// .gitignore (git saw the store).
func finishInit(root string) error {
	_, err := os.Stat(filepath.Join(root, DirName, objects.PacksDir))
	_, gerr := os.Stat(filepath.Join(root, DirName, ".gitignore"))
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(gerr, fs.ErrNotExist) {
		return nil
	}
	if fi, err := os.Stat(filepath.Join(root, ConfigFile)); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return Init(root)
}

// Open opens the project whose root is root.
func Open(root string) (*Repo, error) {
	r := OpenLazy(root)
	if _, err := r.OpenStore(); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenLazy opens the project whose root is root but not its store:
// r.Store is nil until OpenStore. It is for commands that may not need the
// store (Status asks it only when the stat cache cannot answer): opening
// reads the whole object index.
func OpenLazy(root string) *Repo {
	dir := filepath.Join(root, DirName)
	now := time.Now
	return &Repo{Root: root, Dir: dir, Now: now, Cache: LoadStatCache(filepath.Join(dir, "statcache"), now)}
}

// OpenStore opens the store (once) and returns it; r.Store is then set.
func (r *Repo) OpenStore() (*objects.Store, error) {
	r.storeMu.Lock()
	defer r.storeMu.Unlock()
	if r.Store == nil {
		st, err := objects.Open(r.Dir)
		if err != nil {
			return nil, err
		}
		r.Store = st
	}
	return r.Store, nil
}

// Close releases the store's files.
func (r *Repo) Close() error {
	if r.Store == nil {
		return nil
	}
	return r.Store.Close()
}

func (r *Repo) jobs() int {
	if r.Jobs > 0 {
		return r.Jobs
	}
	return runtime.GOMAXPROCS(0)
}

func (r *Repo) progress() func(int64) { return r.OnData }

// Rel converts a path (absolute, or relative to the current directory) to
// a slash-separated path relative to the work tree root, refusing paths
// outside it and inside .dv or .git.
func (r *Repo) Rel(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.Root, abs)
	if err != nil {
		return "", err
	}
	rel = filepath.ToSlash(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s: outside the work tree %s", p, r.Root)
	}
	if rel == "." {
		return "", fmt.Errorf("%s: is the work tree root; name a file or directory inside it", p)
	}
	first := strings.SplitN(rel, "/", 2)[0]
	if first == DirName || first == ".git" {
		return "", fmt.Errorf("%s: inside %s, which dv does not track", p, first)
	}
	// A pointer file names its data.
	return strings.TrimSuffix(rel, pointer.Ext), nil
}

// Abs returns the absolute path of the work-tree path rel.
func (r *Repo) Abs(rel string) string {
	return filepath.Join(r.Root, filepath.FromSlash(rel))
}

// settleRacy waits out the racy margin, then caches files whose stat has
// not changed since they were read.
func settleRacy(ctx context.Context, root string, c *StatCache, files []racyFile) {
	if len(files) == 0 {
		return
	}
	var newest int64
	for _, f := range files {
		newest = max(newest, f.st.Mtime)
	}
	wait := time.Duration(newest+int64(racyMargin(newest))-c.now().UnixNano()) + time.Millisecond
	if wait > 3*time.Second {
		return // a clock far off, or an mtime in the future: do not cache
	}
	if wait > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f.rel)))
		if err == nil && StatOf(fi) == f.st {
			c.Record(f.rel, f.st, f.id)
		}
	}
}
