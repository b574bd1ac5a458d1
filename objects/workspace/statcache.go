package workspace

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zeebo/blake3"
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
// nor stored again.
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
		Ino: st.Ino, Mode: uint64(fileMode(st.Mode))}
}

// fileMode translates a stat(2) mode into an fs.FileMode as package os
// does (os/stat_linux.go).
func fileMode(m uint32) fs.FileMode {
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
// The entries loaded (or last saved) are never modified, so lookups read
// them without a lock; this process's changes sit beside them until Save.
type StatCache struct {
	path     string
	now      func() time.Time
	base     atomic.Pointer[map[string]cacheEntry] // as loaded or saved; read-only
	nchanged atomic.Int64                          // len(changed)
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
	m := readStatCache(path)
	c.base.Store(&m)
	return c
}

// readStatCache reads the cache file; missing or damaged, it is empty.
func readStatCache(path string) map[string]cacheEntry {
	if b, err := os.ReadFile(path); err == nil {
		if m, err := decodeStatCache(b); err == nil {
			return m
		}
	}
	return map[string]cacheEntry{}
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
	e, ok := (*c.base.Load())[path]
	return cacheChange{e: e, gone: !ok}.match(st)
}

// lookup is Lookup with the path in a buffer the caller reuses (the map
// lookups do not copy it).
func (c *StatCache) lookup(path []byte, st Stat) (objects.ID, bool) {
	if c.nchanged.Load() > 0 {
		c.mu.Lock()
		ch, ok := c.changed[string(path)]
		c.mu.Unlock()
		if ok {
			return ch.match(st)
		}
	}
	e, ok := (*c.base.Load())[string(path)]
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
	} else if old, ok := (*c.base.Load())[path]; ok && old == e {
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
	_, saved := (*c.base.Load())[path]
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

// Save writes this process's changes, if any, into the cache file: under
// the file's lock it reads the file again, applies the changes and
// replaces it, so entries other processes saved meanwhile are kept.
func (c *StatCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.changed) == 0 {
		return nil
	}
	unlock, err := lockFile(c.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	m := readStatCache(c.path)
	for p, ch := range c.changed {
		if ch.gone {
			delete(m, p)
		} else {
			m[p] = ch.e
		}
	}
	if err := objects.WriteFileAtomic(c.path, encodeStatCache(m), 0o644); err != nil {
		return err
	}
	c.base.Store(&m)
	c.changed = map[string]cacheChange{}
	c.nchanged.Store(0)
	return nil
}

// entries returns the cache's entries as this process sees them.
func (c *StatCache) entries() map[string]cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := maps.Clone(*c.base.Load())
	for p, ch := range c.changed {
		if ch.gone {
			delete(m, p)
		} else {
			m[p] = ch.e
		}
	}
	return m
}

func encodeStatCache(m map[string]cacheEntry) []byte {
	b := make([]byte, 0, len(statHeader)+len(m)*100+32)
	b = append(b, statHeader...)
	for _, p := range slices.Sorted(maps.Keys(m)) {
		e := m[p]
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
		for _, v := range []uint64{uint64(e.st.Size), uint64(e.st.Mtime), uint64(e.st.Ctime), e.st.Ino, e.st.Mode} {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		b = append(b, e.id[:]...)
	}
	sum := blake3.Sum256(b)
	return append(b, sum[:]...)
}

const statEntryFixed = 5*8 + objects.IDSize

// decodeStatCache parses a cache file. The paths are substrings of one
// copy of the file and the map is sized in a first pass: a cache of
// 100,000 files loads with a handful of allocations.
func decodeStatCache(b []byte) (map[string]cacheEntry, error) {
	if len(b) < len(statHeader)+32 || string(b[:len(statHeader)]) != statHeader {
		return nil, errors.New("stat cache: bad header")
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if blake3.Sum256(body) != [32]byte(sum) {
		return nil, errors.New("stat cache: checksum mismatch")
	}
	b = body[len(statHeader):]
	n := 0
	for rest := b; len(rest) > 0; n++ {
		if len(rest) < 4 {
			return nil, errors.New("stat cache: truncated")
		}
		l := binary.LittleEndian.Uint32(rest)
		if uint64(l)+statEntryFixed > uint64(len(rest)-4) {
			return nil, errors.New("stat cache: truncated entry")
		}
		rest = rest[4+uint64(l)+statEntryFixed:]
	}
	all := string(b)
	m := make(map[string]cacheEntry, n)
	le := binary.LittleEndian
	for off := 0; off < len(all); {
		l := int(le.Uint32(b[off:]))
		p := all[off+4 : off+4+l]
		v := b[off+4+l:]
		m[p] = cacheEntry{
			st: Stat{Size: int64(le.Uint64(v)), Mtime: int64(le.Uint64(v[8:])), Ctime: int64(le.Uint64(v[16:])),
				Ino: le.Uint64(v[24:]), Mode: le.Uint64(v[32:])},
			id: objects.ID(v[40 : 40+objects.IDSize]),
		}
		off += 4 + l + statEntryFixed
	}
	return m, nil
}
