package objects

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// CheckStats counts what Check examined.
type CheckStats struct {
	Packs   int   `json:"packs"`
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// Check verifies every pack and every indexed object: each pack's content
// against its name and trailer, each object against its id. It calls bad
// for each problem found (damaged index files included) and returns an
// error only when it cannot go on.
func (s *Store) Check(ctx context.Context, bad func(*CorruptError)) (CheckStats, error) {
	var st CheckStats
	for _, err := range s.Damaged() {
		if ce, ok := err.(*CorruptError); ok {
			bad(ce)
		} else {
			bad(&CorruptError{What: "index", Name: "?", Reason: err.Error()})
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
			return st, err
		}
		if fi, err := os.Stat(s.packPath(p)); err == nil {
			st.Bytes += fi.Size()
		}
	}
	return st, nil
}

// checkPack verifies one pack file and the indexed objects in it.
func (s *Store) checkPack(p ID, entries []Entry, bad func(*CorruptError)) (int, error) {
	b, err := os.ReadFile(s.packPath(p))
	if err != nil {
		bad(corrupt("pack", p.String(), "%v", err))
		return 0, nil
	}
	if fileName(b) != p.String() {
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
