package workspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/objects"
)

// The stat cache remembers, per work-tree path, the file's size, mtime,
// ctime, inode and mode together with its content id, so that an unchanged
// file is never read again. An entry is only recorded when the file's mtime
// is older than the racy margin at the time it was checked: a file changed
// twice within one timestamp tick would otherwise look unchanged.
//
// File layout (version 1): "DVSTAT1\n", then entries (path length uint32,
// path, size, mtime ns, ctime ns, inode, mode as uint64 LE, id), then the
// BLAKE3-256 of everything before it.
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

type cacheEntry struct {
	st Stat
	id objects.ID
}

// StatCache maps work-tree paths to content ids. Safe for concurrent use,
// and by several processes at once: Save merges this process's changes
// into the file as it is on disk, under a lock, so that concurrent adds of
// different paths keep each other's entries.
type StatCache struct {
	path    string
	now     func() time.Time
	mu      sync.Mutex
	m       map[string]cacheEntry
	changed map[string]cacheChange // since the last load or save
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
	c := &StatCache{path: path, now: now, m: readStatCache(path), changed: map[string]cacheChange{}}
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
	c.mu.Lock()
	e, ok := c.m[path]
	c.mu.Unlock()
	if !ok || e.st != st {
		return objects.ID{}, false
	}
	return e.id, true
}

// Record remembers that path, with stat st taken before its content was
// read, has content id. It reports false when the entry was too recent to
// trust; the caller may re-stat later and Record again.
func (c *StatCache) Record(path string, st Stat, id objects.ID) bool {
	if c.now().UnixNano()-st.Mtime < int64(racyMargin(st.Mtime)) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok && e.st == st && e.id == id {
		return true
	}
	c.m[path] = cacheEntry{st: st, id: id}
	c.changed[path] = cacheChange{e: c.m[path]}
	return true
}

// Forget drops path from the cache.
func (c *StatCache) Forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[path]; ok {
		delete(c.m, path)
		c.changed[path] = cacheChange{gone: true}
	}
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
	c.m = m
	c.changed = map[string]cacheChange{}
	return nil
}

func encodeStatCache(m map[string]cacheEntry) []byte {
	b := make([]byte, 0, len(statHeader)+len(m)*100+32)
	b = append(b, statHeader...)
	for p, e := range m {
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

func decodeStatCache(b []byte) (map[string]cacheEntry, error) {
	if len(b) < len(statHeader)+32 || string(b[:len(statHeader)]) != statHeader {
		return nil, errors.New("stat cache: bad header")
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if blake3.Sum256(body) != [32]byte(sum) {
		return nil, errors.New("stat cache: checksum mismatch")
	}
	b = body[len(statHeader):]
	m := map[string]cacheEntry{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("stat cache: truncated")
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n)+statEntryFixed > uint64(len(b)) {
			return nil, fmt.Errorf("stat cache: truncated entry")
		}
		p := string(b[:n])
		b = b[n:]
		var v [5]uint64
		for i := range v {
			v[i] = binary.LittleEndian.Uint64(b[i*8:])
		}
		var e cacheEntry
		e.st = Stat{Size: int64(v[0]), Mtime: int64(v[1]), Ctime: int64(v[2]), Ino: v[3], Mode: v[4]}
		copy(e.id[:], b[40:])
		b = b[statEntryFixed:]
		m[p] = e
	}
	return m, nil
}
