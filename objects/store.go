package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gofrs/flock"
)

// Store layout below its directory.
const (
	PacksDir = "packs"
	IndexDir = "index"
	TmpDir   = "tmp"
	lockFile = "lock"
)

// Loc is where an object is stored.
type Loc struct {
	Pack ID
	Entry
}

// Store is a local object store: pack files and index files in a directory.
// Its methods are safe for concurrent use. Several processes may write to
// one store at once (each writes its own packs and index files); GC takes
// the store's lock exclusively.
type Store struct {
	dir string

	mu         sync.RWMutex
	index      map[ID]Loc
	indexFiles map[string]bool
	damaged    []error

	fmu   sync.Mutex
	files map[ID]*os.File

	// trusted maps objects this process verified and wrote (a Writer
	// with TrustWritten) to the pack that holds them: the first Load of
	// each reads it from that pack without hashing it again
	// (docs/RELIABILITY.md, "Verified once").
	trusted sync.Map

	// readAt, when set, replaces readPackFile: the seam through which unit
	// tests inject I/O errors that root would bypass (EACCES, EMFILE).
	readAt func(id ID, b []byte, off int64) error
}

// Init creates the store's directories under dir.
func Init(dir string) error {
	for _, d := range []string{PacksDir, IndexDir, TmpDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("init store: %w", err)
		}
	}
	return nil
}

// Open opens the store in dir and loads its index. Index files that fail
// their checks are left out and reported by Damaged.
func Open(dir string) (*Store, error) {
	if _, err := os.Stat(filepath.Join(dir, PacksDir)); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := Init(dir); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, index: map[ID]Loc{}, indexFiles: map[string]bool{}, files: map[ID]*os.File{}}
	if err := s.loadIndex(); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the open pack files.
func (s *Store) Close() error {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	var errs []error
	for id, f := range s.files {
		errs = append(errs, f.Close())
		delete(s.files, id)
	}
	return errors.Join(errs...)
}

// Damaged lists the index files that could not be used.
func (s *Store) Damaged() []error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]error(nil), s.damaged...)
}

// loadIndex reads index files not read yet.
func (s *Store) loadIndex() error {
	for attempt := 0; ; attempt++ {
		names, err := listDir(filepath.Join(s.dir, IndexDir))
		if err != nil {
			return err
		}
		vanished := false
		for _, name := range names {
			s.mu.RLock()
			seen := s.indexFiles[name]
			s.mu.RUnlock()
			if seen {
				continue
			}
			packs, err := s.readIndexFile(name)
			if errors.Is(err, fs.ErrNotExist) {
				// Merged into a newer index file meanwhile: list again.
				vanished = true
				continue
			}
			s.mu.Lock()
			s.indexFiles[name] = true
			if err != nil {
				s.damaged = append(s.damaged, err)
			} else {
				s.growIndex(packs)
				s.addToIndex(packs)
			}
			s.mu.Unlock()
		}
		if !vanished || attempt == 3 {
			return nil
		}
	}
}

// mergeIndexAt is the number of index files at which a writer merges them
// into one, so that opening the store reads few files (dv run writes one
// per run).
const mergeIndexAt = 64

// mergeIndex replaces the index files by one holding all of them, when
// there are many. The merged file is durable before any old one is
// deleted; damaged files are left for fsck. Concurrent writers are safe:
// each only deletes files whose content its merged file holds.
func (s *Store) mergeIndex() error {
	dir := filepath.Join(s.dir, IndexDir)
	names, err := listDir(dir)
	if err != nil || len(names) < mergeIndexAt {
		return err
	}
	var packs []PackIndex
	var merged []string
	for _, n := range names {
		pis, err := s.readIndexFile(n)
		if err != nil {
			continue
		}
		packs = append(packs, pis...)
		merged = append(merged, n)
	}
	b, name := EncodeIndex(packs)
	if err := WriteFileAtomic(filepath.Join(dir, name), b, 0o444); err != nil {
		return err
	}
	s.mu.Lock()
	s.indexFiles[name] = true
	s.mu.Unlock()
	for _, n := range merged {
		if n != name {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

func (s *Store) readIndexFile(name string) ([]PackIndex, error) {
	b, err := ReadFileMax(filepath.Join(s.dir, IndexDir, name), "index", MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", name, err)
	}
	if fileName(b) != name {
		return nil, corrupt("index", name, "content does not match its name")
	}
	packs, err := DecodeIndex(b)
	if err != nil {
		return nil, corrupt("index", name, "%v", err)
	}
	return packs, nil
}

// addToIndex merges packs into the in-memory index; s.mu must be held.
// growIndex makes room for packs' entries in an empty index at once, so
// that opening a store does not rehash the map step by step as it fills
// (about a third of loading 100,000 entries).
func (s *Store) growIndex(packs []PackIndex) {
	if len(s.index) > 0 {
		return
	}
	n := 0
	for _, p := range packs {
		n += len(p.Entries)
	}
	s.index = make(map[ID]Loc, n)
}

func (s *Store) addToIndex(packs []PackIndex) {
	for _, p := range packs {
		for _, e := range p.Entries {
			s.index[e.ID] = Loc{Pack: p.Pack, Entry: e}
		}
	}
}

// listDir returns the sorted names of the regular files in dir that look
// like ids; temporary and foreign files are ignored.
func listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && len(e.Name()) == 2*IDSize && isLowerHex(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Has reports whether the store holds id.
func (s *Store) Has(id ID) bool {
	s.mu.RLock()
	_, ok := s.index[id]
	s.mu.RUnlock()
	return ok
}

// Refresh reads the index files other processes wrote since Open, so
// that objects they stored (and a ref they moved names) can be read.
func (s *Store) Refresh() error { return s.loadIndex() }

// Lookup returns where id is stored.
func (s *Store) Lookup(id ID) (Loc, bool) {
	s.mu.RLock()
	l, ok := s.index[id]
	s.mu.RUnlock()
	return l, ok
}

// Count returns the number of indexed objects.
func (s *Store) Count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.index)
}

// Each calls fn for every indexed object, in no particular order.
func (s *Store) Each(fn func(Loc)) {
	s.mu.RLock()
	locs := make([]Loc, 0, len(s.index))
	for _, l := range s.index {
		locs = append(locs, l)
	}
	s.mu.RUnlock()
	for _, l := range locs {
		fn(l)
	}
}

// Resolve expands a hex prefix of at least 8 digits to the one id it names.
func (s *Store) Resolve(prefix string) (ID, error) {
	if len(prefix) == 2*IDSize {
		return ParseID(prefix)
	}
	if len(prefix) < 8 || len(prefix) > 2*IDSize || !isLowerHex(prefix) {
		return ID{}, fmt.Errorf("%w %q (need 8 to 64 lowercase hex digits)", ErrInvalidID, truncate(prefix, 80))
	}
	var found []ID
	s.mu.RLock()
	for id := range s.index {
		if strings.HasPrefix(id.String(), prefix) {
			found = append(found, id)
		}
	}
	s.mu.RUnlock()
	switch len(found) {
	case 0:
		return ID{}, fmt.Errorf("no object matches %q: %w", prefix, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return ID{}, fmt.Errorf("%w %q matches %d objects", ErrAmbiguous, prefix, len(found))
}

func (s *Store) packPath(id ID) string { return filepath.Join(s.dir, PacksDir, id.String()) }

// maxOpenPacks bounds the pack files kept open for reading.
const maxOpenPacks = 256

// readPackAt reads len(b) bytes at off from pack id. Pack files stay open
// for later reads, up to maxOpenPacks; beyond that (many small packs, one
// per run) a file is opened for the read and closed after it.
//
// A missing pack or a read cut short is damage (a *CorruptError wrapping
// the cause); any other error (permission denied, too many open files, a
// directory where the pack should be) is returned as the *fs.PathError
// that names the file: not damage.
func (s *Store) readPackAt(id ID, b []byte, off int64) error {
	if s.readAt != nil {
		return s.readAt(id, b, off)
	}
	return s.readPackFile(id, b, off)
}

func (s *Store) readPackFile(id ID, b []byte, off int64) error {
	s.fmu.Lock()
	f, ok := s.files[id]
	if !ok {
		var err error
		f, err = os.Open(s.packPath(id))
		if err != nil {
			s.fmu.Unlock()
			if errors.Is(err, fs.ErrNotExist) {
				return &CorruptError{What: "pack", Name: id.String(), Reason: "missing from the store", Err: err}
			}
			return err
		}
		if len(s.files) < maxOpenPacks {
			s.files[id] = f
			ok = true
		}
	}
	s.fmu.Unlock()
	n, err := f.ReadAt(b, off)
	if !ok {
		_ = f.Close()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &CorruptError{What: "pack", Name: id.String(),
			Reason: fmt.Sprintf("cut short: %d of %d bytes at offset %d", n, len(b), off), Err: io.ErrUnexpectedEOF}
	}
	return err
}

// readStored reads the stored bytes of id at l. A pack that has vanished
// may have been repacked by a gc in another process since the index was
// read: the index files written meanwhile are read once, and a new place
// for id is tried before the missing pack is reported as damage.
func (s *Store) readStored(id ID, l Loc) (Loc, []byte, error) {
	return s.readStoredInto(id, l, nil)
}

// readStoredInto is readStored reading into buf when it is large enough.
func (s *Store) readStoredInto(id ID, l Loc, buf []byte) (Loc, []byte, error) {
	stored := grow(buf, int(l.Length))
	err := s.readPackAt(l.Pack, stored, int64(l.Offset))
	if err != nil && errors.Is(err, fs.ErrNotExist) && s.Refresh() == nil {
		if nl, ok := s.Lookup(id); ok && nl.Pack != l.Pack {
			l = nl
			stored = grow(buf, int(l.Length))
			err = s.readPackAt(l.Pack, stored, int64(l.Offset))
		}
	}
	if err != nil {
		return l, nil, loadErr(id, l.Pack, err)
	}
	return l, stored, nil
}

// loadErr turns a failed read of object id from pack p into the error
// Load and LoadStored return: damage stays a *CorruptError (exit 3) naming
// the object, any other error keeps its path (exit 1).
func loadErr(id, p ID, err error) error {
	var ce *CorruptError
	if errors.As(err, &ce) {
		return fmt.Errorf("object %s: %w", id, err)
	}
	return fmt.Errorf("object %s: read pack %s: %w", id.Short(), p.Short(), err)
}

// Load returns the type and bytes of object id, read from its pack,
// decompressed and verified against the id.
func (s *Store) Load(ctx context.Context, id ID) (Type, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	l, ok := s.Lookup(id)
	if !ok {
		// Another process may have stored it since Open (a ref it moved
		// names it): read the index files added meanwhile, once.
		if err := s.Refresh(); err != nil {
			return 0, nil, err
		}
		if l, ok = s.Lookup(id); !ok {
			return 0, nil, &NotFoundError{ID: id}
		}
	}
	l, stored, err := s.readStored(id, l)
	if err != nil {
		return 0, nil, err
	}
	data, err := decompress(l.Comp, stored, int(l.RawLen))
	if err != nil {
		return 0, nil, &CorruptError{What: "object", Name: id.String(), Reason: fmt.Sprintf("in pack %s: %v", l.Pack.Short(), err), Err: err}
	}
	if !s.isTrusted(id, l.Pack) && Hash(l.Type, data) != id {
		return 0, nil, corrupt("object", id.String(), "content does not match its id (pack %s)", l.Pack.Short())
	}
	return l.Type, data, nil
}

// grow returns buf resized to n bytes, or a new slice when buf is too small.
func grow(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]byte, n)
}

// isTrusted reports whether this process verified id as it wrote it into
// pack and has not read it back since, and uses that up: the first read
// back is spared the hash, any later one verifies again.
func (s *Store) isTrusted(id, pack ID) bool {
	return s.trusted.CompareAndDelete(id, pack)
}

// LoadType loads id and checks that it is of type want.
func (s *Store) LoadType(ctx context.Context, id ID, want Type) ([]byte, error) {
	t, data, err := s.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	if t != want {
		return nil, fmt.Errorf("object %s is a %s, not a %s", id.Short(), t, want)
	}
	return data, nil
}

// Lock takes the store's cross-process lock: shared for writers that only
// add, exclusive for GC. It blocks until the lock is free or ctx ends. The
// exclusive lock first reloads the index, so that it covers objects other
// processes added since Open.
func (s *Store) Lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	fl := flock.New(filepath.Join(s.dir, lockFile))
	var ok bool
	if exclusive {
		ok, err = fl.TryLockContext(ctx, lockRetry)
	} else {
		ok, err = fl.TryRLockContext(ctx, lockRetry)
	}
	if err != nil {
		return nil, fmt.Errorf("lock store: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("lock store: busy")
	}
	if exclusive {
		// Others may have added index files since Open; GC must see them.
		if err := s.loadIndex(); err != nil {
			_ = fl.Unlock()
			return nil, err
		}
	}
	return func() { _ = fl.Unlock() }, nil
}
