package workspace

import (
	"bytes"
	"encoding/binary"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dv-ml/dv/objects"
)

// The stat cache remembers, per work-tree path, the file's size, mtime,
// ctime, inode and mode together with its content id, so that an unchanged
// file is never read again. An entry is only recorded when the file's mtime
// is older than the racy margin at the time it was checked: a file changed
// twice within one timestamp tick would otherwise look unchanged.
//
// Directories are cached too: under the directory's path, with Mode
// fs.ModeDir and the digest of its entries in the other fields (treeStat),
// the id of its tree, so that an unchanged directory is neither encoded
// nor stored again. And so is what the store holds: under
// .dv/stored/<id>, with Mode fs.ModeIrregular and the digest of the index
// files in the other fields (storedStat), so that a clean status does not
// read the index.
//
// File layout (version 1): "DVSTAT1\n", then entries sorted by path (path
// length uint32, path, size, mtime ns, ctime ns, inode, mode as uint64 LE,
// id), then the BLAKE3-256 of everything before it (docs/FORMATS.md).
const statHeader = "DVSTAT1\n"

// Stat is what the cache compares.
type Stat struct {
	Size  int64
	Mtime int64 // ns
	Ctime int64 // ns
	Ino   uint64
	Mode  uint64
}

// StatOf extracts a Stat from file info.
func StatOf(fi fs.FileInfo) Stat {
	st := Stat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Mode: uint64(fi.Mode())}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Ctime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
		st.Ino = sys.Ino
	}
	return st
}

// statOfSys is StatOf for the result of fstatat(2) (the scanner's stat
// of each file in a directory it has open): the same fields, the mode
// translated as os.Lstat translates it.
func statOfSys(st *unix.Stat_t) Stat {
	return Stat{Size: st.Size, Mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec, Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec,
		Ino: st.Ino, Mode: uint64(sysFileMode(st.Mode))}
}

// sysFileMode translates a stat(2) mode into an fs.FileMode as package os
// does (os/stat_linux.go).
func sysFileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

type cacheEntry struct {
	st Stat
	id objects.ID
}

// StatCache maps work-tree paths to content ids. Safe for concurrent use,
// and by several processes at once: Save merges this process's changes
// into the file as it is on disk, under a lock, so that concurrent adds of
// different paths keep each other's entries.
//
// The file loaded (or last saved) is never modified, so lookups read it
// without a lock; this process's changes sit beside it until Save.
type StatCache struct {
	path     string
	now      func() time.Time
	base     atomic.Pointer[cacheFile] // as loaded or saved; read-only
	nchanged atomic.Int64              // len(changed)
	mu       sync.Mutex
	changed  map[string]cacheChange // since the last load or save
}

// cacheChange is an entry recorded or forgotten by this process.
type cacheChange struct {
	e    cacheEntry
	gone bool
}

// racyMargin returns how old an mtime must be for its entry to be trusted:
// filesystems with second granularity store whole seconds.
func racyMargin(mtime int64) time.Duration {
	if mtime%1e9 == 0 {
		return 2 * time.Second
	}
	return 50 * time.Millisecond
}

// LoadStatCache reads the cache at path; a missing or damaged file gives an
// empty cache (it only costs re-reading files).
func LoadStatCache(path string, now func() time.Time) *StatCache {
	c := &StatCache{path: path, now: now, changed: map[string]cacheChange{}}
	c.base.Store(readStatCache(path))
	return c
}

// Lookup returns the id cached for path if st matches.
func (c *StatCache) Lookup(path string, st Stat) (objects.ID, bool) {
	if c.nchanged.Load() > 0 {
		c.mu.Lock()
		ch, ok := c.changed[path]
		c.mu.Unlock()
		if ok {
			return ch.match(st)
		}
	}
	e, ok := c.base.Load().get(path)
	return cacheChange{e: e, gone: !ok}.match(st)
}

// cacheCursor looks up paths in increasing order (the sorted names of one
// directory), each search starting where the previous one ended.
type cacheCursor struct {
	c   *StatCache
	f   *cacheFile
	pos int
}

func (c *StatCache) cursor() cacheCursor { return cacheCursor{c: c, f: c.base.Load()} }

// lookup returns the id cached for path if st matches. The path's bytes
// are not kept: the caller may reuse the buffer.
func (cur *cacheCursor) lookup(path []byte, st Stat) (objects.ID, bool) {
	if c := cur.c; c.nchanged.Load() > 0 {
		c.mu.Lock()
		ch, ok := c.changed[string(path)]
		c.mu.Unlock()
		if ok {
			return ch.match(st)
		}
	}
	e, ok := cur.f.find(&cur.pos, path)
	return cacheChange{e: e, gone: !ok}.match(st)
}

// match returns the entry's id if it is there with stat st.
func (ch cacheChange) match(st Stat) (objects.ID, bool) {
	if ch.gone || ch.e.st != st {
		return objects.ID{}, false
	}
	return ch.e.id, true
}

// Record remembers that path, with stat st taken before its content was
// read, has content id. It reports false when the entry was too recent to
// trust; the caller may re-stat later and Record again.
func (c *StatCache) Record(path string, st Stat, id objects.ID) bool {
	if c.now().UnixNano()-st.Mtime < int64(racyMargin(st.Mtime)) {
		return false
	}
	c.set(path, cacheEntry{st: st, id: id})
	return true
}

// set records e for path unless the cache already holds it.
func (c *StatCache) set(path string, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.changed[path]; ok {
		if !ch.gone && ch.e == e {
			return
		}
	} else if old, ok := c.base.Load().get(path); ok && old == e {
		return
	}
	c.changed[path] = cacheChange{e: e}
	c.nchanged.Store(int64(len(c.changed)))
}

// Forget drops path from the cache.
func (c *StatCache) Forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, changed := c.changed[path]
	_, saved := c.base.Load().get(path)
	if changed && !ch.gone || !changed && saved {
		c.changed[path] = cacheChange{gone: true}
		c.nchanged.Store(int64(len(c.changed)))
	}
}

// treeStat is the Stat under which the cache keeps a directory's tree id:
// Mode is fs.ModeDir (a file's stat never is) and the other fields hold
// the digest of the directory's entries (treeDigest), so that a lookup
// hits only when the entries are the same.
func treeStat(digest [32]byte) Stat {
	le := binary.LittleEndian
	return Stat{Size: int64(le.Uint64(digest[0:])), Mtime: int64(le.Uint64(digest[8:])),
		Ctime: int64(le.Uint64(digest[16:])), Ino: le.Uint64(digest[24:]), Mode: uint64(fs.ModeDir)}
}

// lookupTree returns the tree id cached for the directory rel whose
// entries have digest.
func (c *StatCache) lookupTree(rel string, digest [32]byte) (objects.ID, bool) {
	return c.Lookup(rel, treeStat(digest))
}

// recordTree remembers the tree id of the directory rel whose entries have
// digest. The digest depends on the entries alone, never on time, so
// there is no racy margin.
func (c *StatCache) recordTree(rel string, digest [32]byte, id objects.ID) {
	c.set(rel, cacheEntry{st: treeStat(digest), id: id})
}

// storedPrefix starts the cache's paths for objects known to be in the
// store; no work-tree path starts with .dv/.
const storedPrefix = DirName + "/stored/"

// storedStat is the Stat under which the cache remembers that the store's
// index held an object: Mode is fs.ModeIrregular (no file's stat is) and
// the other fields hold the digest of the index files' names and stats
// (indexState), so that the entry holds only while they are unchanged.
func storedStat(state [32]byte) Stat {
	st := treeStat(state)
	st.Mode = uint64(fs.ModeIrregular)
	return st
}

// lookupStored reports whether the cache knows that the store, whose
// index files have state, holds id.
func (c *StatCache) lookupStored(id objects.ID, state [32]byte) bool {
	_, ok := c.Lookup(storedPrefix+id.String(), storedStat(state))
	return ok
}

// recordStored remembers that the store, whose index files have state,
// holds the ids, and forgets what it knew of other states (which no
// lookup can match any more).
func (c *StatCache) recordStored(ids []objects.ID, state [32]byte) {
	st := storedStat(state)
	f := c.base.Load()
	for i := f.seek(0, []byte(storedPrefix)); i < f.len() && bytes.HasPrefix(f.path(i), []byte(storedPrefix)); i++ {
		if f.entry(i).st != st {
			c.Forget(string(f.path(i)))
		}
	}
	for _, id := range ids {
		c.set(storedPrefix+id.String(), cacheEntry{st: st, id: id})
	}
}

// storedUnder returns the ids the cache knows the store held while its
// index files had state.
func (c *StatCache) storedUnder(state [32]byte) []objects.ID {
	st := storedStat(state)
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []objects.ID
	f := c.base.Load()
	for i := f.seek(0, []byte(storedPrefix)); i < f.len() && bytes.HasPrefix(f.path(i), []byte(storedPrefix)); i++ {
		if _, changed := c.changed[string(f.path(i))]; !changed {
			if e := f.entry(i); e.st == st {
				ids = append(ids, e.id)
			}
		}
	}
	for p, ch := range c.changed {
		if strings.HasPrefix(p, storedPrefix) && !ch.gone && ch.e.st == st {
			ids = append(ids, ch.e.id)
		}
	}
	return ids
}

// Save writes this process's changes, if any, into the cache file: under
// the file's lock it reads the file again, applies the changes and
// replaces it, so entries other processes saved meanwhile are kept. A file
// loaded unsorted (written by an older dv) is rewritten sorted.
func (c *StatCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.changed) == 0 && c.base.Load().sorted {
		return nil
	}
	unlock, err := lockFile(c.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	b, f := mergeStatCache(readStatCache(c.path), c.changed)
	if err := objects.WriteFileAtomic(c.path, b, 0o644); err != nil {
		return err
	}
	c.base.Store(f)
	c.changed = map[string]cacheChange{}
	c.nchanged.Store(0)
	return nil
}

// entries returns the cache's entries as this process sees them.
func (c *StatCache) entries() map[string]cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.base.Load().entries()
	for p, ch := range c.changed {
		if ch.gone {
			delete(m, p)
		} else {
			m[p] = ch.e
		}
	}
	return m
}
