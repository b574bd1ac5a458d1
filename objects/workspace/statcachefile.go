package workspace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/objects"
)

// cacheFile is a decoded stat cache file. The entries stay in the file's
// bytes, found through their offsets in path order: loading 100,000
// entries allocates two slices and builds no map, and a walk that looks
// up the sorted names of a directory moves forward through adjacent
// entries.
type cacheFile struct {
	b      []byte // the entries: the file less its header and checksum
	offs   []int  // where each entry starts in b, in path order
	sorted bool   // the file itself lists them in path order
}

const statEntryFixed = 5*8 + objects.IDSize

var emptyCacheFile = &cacheFile{sorted: true}

func (f *cacheFile) len() int { return len(f.offs) }

// path returns the path of the i-th entry.
func (f *cacheFile) path(i int) []byte {
	o := f.offs[i]
	n := int(binary.LittleEndian.Uint32(f.b[o:]))
	return f.b[o+4 : o+4+n]
}

// raw returns the i-th entry as it is in the file.
func (f *cacheFile) raw(i int) []byte {
	o := f.offs[i]
	n := int(binary.LittleEndian.Uint32(f.b[o:]))
	return f.b[o : o+4+n+statEntryFixed]
}

// entry returns the i-th entry's stat and id.
func (f *cacheFile) entry(i int) cacheEntry {
	o := f.offs[i]
	v := f.b[o+4+int(binary.LittleEndian.Uint32(f.b[o:])):]
	le := binary.LittleEndian
	return cacheEntry{
		st: Stat{Size: int64(le.Uint64(v)), Mtime: int64(le.Uint64(v[8:])), Ctime: int64(le.Uint64(v[16:])),
			Ino: le.Uint64(v[24:]), Mode: le.Uint64(v[32:])},
		id: objects.ID(v[40 : 40+objects.IDSize]),
	}
}

// seek returns the index of the first entry at or after from whose path is
// not below p. It gallops from from, so that looking up increasing paths
// one after the other costs a comparison or two each.
func (f *cacheFile) seek(from int, p []byte) int {
	n := f.len()
	lo, hi, step := from, from, 1
	for hi < n && bytes.Compare(f.path(hi), p) < 0 {
		lo = hi + 1
		hi += step
		step *= 2
	}
	hi = min(hi, n)
	return lo + sort.Search(hi-lo, func(i int) bool { return bytes.Compare(f.path(lo+i), p) >= 0 })
}

// find returns the entry of path p, searching from the index *from on
// (and moving it forward: p must not be below the previous path looked up
// with the same from).
func (f *cacheFile) find(from *int, p []byte) (cacheEntry, bool) {
	i := f.seek(*from, p)
	*from = i
	if i < f.len() && bytes.Equal(f.path(i), p) {
		return f.entry(i), true
	}
	return cacheEntry{}, false
}

// get returns the entry of path p (a binary search; no copy of p).
func (f *cacheFile) get(p string) (cacheEntry, bool) {
	i := sort.Search(f.len(), func(i int) bool { return string(f.path(i)) >= p })
	if i < f.len() && string(f.path(i)) == p {
		return f.entry(i), true
	}
	return cacheEntry{}, false
}

// entries returns the file's entries as a map.
func (f *cacheFile) entries() map[string]cacheEntry {
	m := make(map[string]cacheEntry, f.len())
	for i := range f.offs {
		m[string(f.path(i))] = f.entry(i)
	}
	return m
}

// readStatCache reads the cache file; missing or damaged, it is empty.
func readStatCache(path string) *cacheFile {
	if b, err := os.ReadFile(path); err == nil {
		if f, err := decodeStatCache(b); err == nil {
			return f
		}
	}
	return emptyCacheFile
}

// decodeStatCache checks a cache file and indexes its entries. A file
// that older versions of dv wrote in no order is sorted here (and marked
// for rewriting); a path listed twice makes it damaged.
func decodeStatCache(b []byte) (*cacheFile, error) {
	if len(b) < len(statHeader)+32 || string(b[:len(statHeader)]) != statHeader {
		return nil, errors.New("stat cache: bad header")
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if blake3.Sum256(body) != [32]byte(sum) {
		return nil, errors.New("stat cache: checksum mismatch")
	}
	f := &cacheFile{b: body[len(statHeader):], sorted: true}
	n := 0
	for rest := f.b; len(rest) > 0; n++ {
		if len(rest) < 4 {
			return nil, errors.New("stat cache: truncated")
		}
		l := binary.LittleEndian.Uint32(rest)
		if uint64(l)+statEntryFixed > uint64(len(rest)-4) {
			return nil, errors.New("stat cache: truncated entry")
		}
		rest = rest[4+uint64(l)+statEntryFixed:]
	}
	f.offs = make([]int, 0, n)
	for off := 0; off < len(f.b); {
		f.offs = append(f.offs, off)
		if k := len(f.offs) - 1; k > 0 && f.sorted && bytes.Compare(f.path(k-1), f.path(k)) >= 0 {
			f.sorted = false
		}
		off += 4 + int(binary.LittleEndian.Uint32(f.b[off:])) + statEntryFixed
	}
	if !f.sorted {
		sort.Slice(f.offs, func(i, j int) bool { return bytes.Compare(f.path(i), f.path(j)) < 0 })
		for k := 1; k < f.len(); k++ {
			if bytes.Equal(f.path(k-1), f.path(k)) {
				return nil, errors.New("stat cache: a path is listed twice")
			}
		}
	}
	return f, nil
}

// cacheWriter builds a cache file, entries in path order.
type cacheWriter struct {
	f cacheFile
}

func newCacheWriter(n int) *cacheWriter {
	w := &cacheWriter{f: cacheFile{sorted: true, offs: make([]int, 0, n)}}
	w.f.b = make([]byte, 0, len(statHeader)+n*100+32)
	w.f.b = append(w.f.b, statHeader...)
	return w
}

// addRaw appends an entry as another cache file holds it.
func (w *cacheWriter) addRaw(raw []byte) {
	w.f.offs = append(w.f.offs, len(w.f.b)-len(statHeader))
	w.f.b = append(w.f.b, raw...)
}

// add appends path's entry.
func (w *cacheWriter) add(path string, e cacheEntry) {
	w.f.offs = append(w.f.offs, len(w.f.b)-len(statHeader))
	w.f.b = binary.LittleEndian.AppendUint32(w.f.b, uint32(len(path)))
	w.f.b = append(w.f.b, path...)
	for _, v := range [...]uint64{uint64(e.st.Size), uint64(e.st.Mtime), uint64(e.st.Ctime), e.st.Ino, e.st.Mode} {
		w.f.b = binary.LittleEndian.AppendUint64(w.f.b, v)
	}
	w.f.b = append(w.f.b, e.id[:]...)
}

// finish returns the file's bytes and the decoded file they make.
func (w *cacheWriter) finish() ([]byte, *cacheFile) {
	sum := blake3.Sum256(w.f.b)
	w.f.b = append(w.f.b, sum[:]...)
	out := w.f.b
	f := &cacheFile{b: out[len(statHeader) : len(out)-32], offs: w.f.offs, sorted: true}
	return out, f
}

// mergeStatCache returns the cache file f with changes applied (entries
// set or, when gone, removed).
func mergeStatCache(f *cacheFile, changes map[string]cacheChange) ([]byte, *cacheFile) {
	keys := slices.Sorted(maps.Keys(changes))
	w := newCacheWriter(f.len() + len(keys))
	i := 0
	for _, k := range keys {
		for ; i < f.len() && string(f.path(i)) < k; i++ {
			w.addRaw(f.raw(i))
		}
		if i < f.len() && string(f.path(i)) == k {
			i++ // replaced or removed
		}
		if ch := changes[k]; !ch.gone {
			w.add(k, ch.e)
		}
	}
	for ; i < f.len(); i++ {
		w.addRaw(f.raw(i))
	}
	return w.finish()
}

// encodeStatCache returns the cache file holding the entries of m.
func encodeStatCache(m map[string]cacheEntry) []byte {
	changes := make(map[string]cacheChange, len(m))
	for p, e := range m {
		changes[p] = cacheChange{e: e}
	}
	b, _ := mergeStatCache(emptyCacheFile, changes)
	return b
}
