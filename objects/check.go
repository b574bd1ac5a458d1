package objects

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// CheckStats counts what Check examined.
type CheckStats struct {
	Packs     int   `json:"packs"`
	Objects   int   `json:"objects"`
	Bytes     int64 `json:"bytes"`
	Unindexed int   `json:"unindexed_packs"` // sound packs no index names
}

// Check verifies every pack and every indexed object: each pack's content
// against its name and trailer, each object against its id. It calls bad
// for each problem found (damaged index files included). Files it cannot
// read for reasons that say nothing of their bytes (permission denied, too
// many open files) are not damage: Check goes on with the others and
// returns those errors, joined, each naming its file. It also returns an
// error when it cannot go on.
func (s *Store) Check(ctx context.Context, bad func(*CorruptError)) (CheckStats, error) {
	var st CheckStats
	var ioErrs []error
	for _, err := range s.Damaged() {
		var ce *CorruptError
		if errors.As(err, &ce) {
			bad(ce)
		} else {
			ioErrs = append(ioErrs, err)
		}
	}
	byPack := map[ID][]Entry{}
	s.Each(func(l Loc) { byPack[l.Pack] = append(byPack[l.Pack], l.Entry) })
	names, err := listDir(filepath.Join(s.dir, PacksDir))
	if err != nil {
		return st, err
	}
	onDisk := map[ID]bool{}
	for _, n := range names {
		id, _ := ParseID(n)
		onDisk[id] = true
	}
	packs := make([]ID, 0, len(byPack))
	for p := range byPack {
		packs = append(packs, p)
	}
	sort.Slice(packs, func(i, j int) bool { return packs[i].String() < packs[j].String() })
	for id := range onDisk {
		if _, ok := byPack[id]; ok {
			continue
		}
		// Left by an interrupted add, or orphaned by a damaged index:
		// verify it too; Repair can index it again.
		if _, err := s.readPack(id, bad); err != nil {
			var ce *CorruptError
			switch {
			case errors.As(err, &ce):
				bad(corrupt("pack", id.String(), "%s (not indexed)", ce.Reason))
			case !errors.Is(err, fs.ErrNotExist): // vanished: a concurrent gc
				ioErrs = append(ioErrs, err)
			}
			continue
		}
		st.Unindexed++
	}
	for _, p := range packs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		entries := byPack[p]
		if !onDisk[p] {
			for _, e := range entries {
				bad(corrupt("object", e.ID.String(), "its pack %s is missing", p.Short()))
			}
			continue
		}
		st.Packs++
		n, err := s.checkPack(p, entries, bad)
		st.Objects += n
		if err != nil {
			ioErrs = append(ioErrs, err)
		}
		if fi, err := os.Stat(s.packPath(p)); err == nil {
			st.Bytes += fi.Size()
		}
	}
	return st, errors.Join(ioErrs...)
}

// checkPack verifies one pack file and the indexed objects in it. An
// error is one reading the file (not damage).
func (s *Store) checkPack(p ID, entries []Entry, bad func(*CorruptError)) (int, error) {
	b, err := ReadFileMax(s.packPath(p), "pack", MaxFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		for _, e := range entries {
			bad(corrupt("object", e.ID.String(), "its pack %s is missing", p.Short()))
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if id, err := PackID(b); err == nil && id != p {
		bad(corrupt("pack", p.String(), "content does not match its name"))
	}
	if _, err := ReadPackEntries(bytesReaderAt(b), int64(len(b))); err != nil {
		bad(corrupt("pack", p.String(), "%v", err))
	}
	for _, e := range entries {
		if err := verifyEntry(b, e); err != nil {
			bad(corrupt("object", e.ID.String(), "in pack %s: %v", p.Short(), err))
		}
	}
	return len(entries), nil
}

func verifyEntry(pack []byte, e Entry) error {
	end := e.Offset + uint64(e.Length)
	if end > uint64(len(pack)) {
		return fmt.Errorf("extends past the end of the pack")
	}
	data, err := decompress(e.Comp, pack[e.Offset:end], int(e.RawLen))
	if err != nil {
		return err
	}
	if Hash(e.Type, data) != e.ID {
		return fmt.Errorf("content does not match its id")
	}
	return nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) || int64(len(p)) > int64(len(b))-off {
		return 0, fmt.Errorf("read past the end")
	}
	return copy(p, b[off:]), nil
}

// readPack reads a whole pack file and its trailer, and returns the
// entries whose objects verify; bad receives the others (and a content
// that does not match the pack's name). err means the pack is unusable.
func (s *Store) readPack(id ID, bad func(*CorruptError)) ([]Entry, error) {
	b, err := ReadFileMax(s.packPath(id), "pack", MaxFileSize)
	if err != nil {
		return nil, err
	}
	entries, err := ReadPackEntries(bytesReaderAt(b), int64(len(b)))
	if err != nil {
		return nil, &CorruptError{What: "pack", Name: id.String(), Reason: err.Error(), Err: err}
	}
	if pid, err := PackID(b); err == nil && pid != id {
		bad(corrupt("pack", id.String(), "content does not match its name"))
	}
	good := entries[:0]
	for _, e := range entries {
		if err := verifyEntry(b, e); err != nil {
			bad(corrupt("object", e.ID.String(), "in unindexed pack %s: %v", id.Short(), err))
			continue
		}
		good = append(good, e)
	}
	return good, nil
}

// RepairStats says what Repair changed.
type RepairStats struct {
	Reindexed int `json:"packs_reindexed"`
	Dropped   int `json:"objects_dropped"`
}

// Repair makes the index trustworthy again: sound packs that no index
// names are indexed from their trailers, and the damaged objects are
// dropped from the index, so that a later add or pull stores them afresh.
// Nothing is deleted; gc removes what is no longer indexed. The caller
// must hold the store's lock exclusively.
func (s *Store) Repair(ctx context.Context, damaged []ID) (RepairStats, error) {
	var st RepairStats
	if err := s.loadIndex(); err != nil {
		return st, err
	}
	byPack := s.Packs()
	names, err := listDir(filepath.Join(s.dir, PacksDir))
	if err != nil {
		return st, err
	}
	var found []PackIndex
	for _, n := range names {
		id, _ := ParseID(n)
		if _, ok := byPack[id]; ok {
			continue
		}
		entries, err := s.readPack(id, func(*CorruptError) {})
		if err != nil || len(entries) == 0 {
			continue // unreadable: leave it unindexed
		}
		found = append(found, PackIndex{Pack: id, Entries: entries})
	}
	if len(found) > 0 {
		if err := s.writeIndex(found); err != nil {
			return st, err
		}
		st.Reindexed = len(found)
	}
	if len(damaged) == 0 {
		return st, nil
	}
	drop := map[ID]bool{}
	for _, id := range damaged {
		if s.Has(id) {
			drop[id] = true
		}
	}
	live := map[ID]bool{}
	s.Each(func(l Loc) {
		if !drop[l.ID] {
			live[l.ID] = true
		}
	})
	st.Dropped = len(drop)
	return st, s.rewriteIndex(nil, live)
}
