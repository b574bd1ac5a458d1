package remote

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dv-ml/dv/objects"
)

// Blob name prefixes on a remote.
const (
	PacksPrefix = "packs/"
	IndexPrefix = "index/"
	RefsPrefix  = "refs/"
)

// Index is what a remote holds, read from its index files.
type Index struct {
	Objects map[objects.ID]objects.Loc
	Files   []string // index file names
	Packs   map[objects.ID]bool

	byPackOnce sync.Once
	byPack     map[objects.ID][]objects.Entry // sorted by offset
}

// inRange returns the objects of pack that lie wholly in [off, end).
func (idx *Index) inRange(pack objects.ID, off, end uint64) []objects.Entry {
	idx.byPackOnce.Do(func() {
		idx.byPack = map[objects.ID][]objects.Entry{}
		for _, l := range idx.Objects {
			idx.byPack[l.Pack] = append(idx.byPack[l.Pack], l.Entry)
		}
		for _, es := range idx.byPack {
			sort.Slice(es, func(i, j int) bool { return es[i].Offset < es[j].Offset })
		}
	})
	es := idx.byPack[pack]
	i := sort.Search(len(es), func(i int) bool { return es[i].Offset >= off })
	var out []objects.Entry
	for ; i < len(es) && es[i].Offset+uint64(es[i].Length) <= end; i++ {
		out = append(out, es[i])
	}
	return out
}

// Syncer moves objects between a local store and a remote.
type Syncer struct {
	Local  *objects.Store
	Remote Store
	// CacheDir keeps copies of the remote's index files (they are
	// immutable) and the last known values of its refs.
	CacheDir string
	Jobs     int
	OnBytes  func(n int64) // progress, may be nil
	// Greedy makes Fetch keep every object a ranged read brings in whole,
	// not only those wanted: right for a full pull, where the holes read
	// through hold the next level's data; wasteful for a partial one.
	Greedy bool
}

func (s *Syncer) jobs() int { return max(s.Jobs, 1) }

func (s *Syncer) progress(n int64) {
	if s.OnBytes != nil {
		s.OnBytes(n)
	}
}

// LoadIndex lists the remote's index files, downloads those not cached
// yet, checks each against its name, and returns their union. Damaged
// index files are an integrity error naming them.
func (s *Syncer) LoadIndex(ctx context.Context) (*Index, error) {
	var names []string
	err := s.Remote.List(ctx, IndexPrefix, func(fi Info) error {
		n := strings.TrimPrefix(fi.Name, IndexPrefix)
		if _, err := objects.ParseID(n); err == nil {
			names = append(names, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.Remote, err)
	}
	cache := filepath.Join(s.CacheDir, "index")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	datas := make([][]byte, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.jobs())
	for i, n := range names {
		g.Go(func() error {
			b, err := objects.ReadFileMax(filepath.Join(cache, n), "index", objects.MaxFileSize)
			if err == nil && objects.ID(sum(b)).String() == n {
				datas[i] = b
				return nil
			}
			b, err = ReadAllMax(gctx, s.Remote, IndexPrefix+n, objects.MaxFileSize)
			if err != nil {
				return err
			}
			if objects.ID(sum(b)).String() != n {
				return &objects.CorruptError{What: "remote index", Name: n, Reason: "content does not match its name"}
			}
			datas[i] = b
			return objects.WriteFileAtomic(filepath.Join(cache, n), b, 0o644)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	idx := &Index{Objects: map[objects.ID]objects.Loc{}, Files: names, Packs: map[objects.ID]bool{}}
	for i, b := range datas {
		packs, err := objects.DecodeIndex(b)
		if err != nil {
			return nil, &objects.CorruptError{What: "remote index", Name: names[i], Reason: err.Error(), Err: err}
		}
		idx.add(packs)
	}
	s.pruneCache(cache, names)
	return idx, nil
}

func (idx *Index) add(packs []objects.PackIndex) {
	for _, p := range packs {
		idx.Packs[p.Pack] = true
		for _, e := range p.Entries {
			idx.Objects[e.ID] = objects.Loc{Pack: p.Pack, Entry: e}
		}
	}
}

// pruneCache drops cached index files the remote no longer lists.
func (s *Syncer) pruneCache(cache string, names []string) {
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	ents, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	for _, e := range ents {
		if keep[e.Name()] {
			continue
		}
		if strings.HasPrefix(e.Name(), ".") {
			// Another dv's atomic write of a cached index, in flight:
			// removing it failed that dv (pull and gc -r in one project).
			// Only one left by a killed dv long ago goes.
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < 10*time.Minute {
				continue
			}
		}
		_ = os.Remove(filepath.Join(cache, e.Name()))
	}
}

// ListPacks returns the pack names on the remote and their sizes.
func (s *Syncer) ListPacks(ctx context.Context) (map[objects.ID]Info, error) {
	out := map[objects.ID]Info{}
	err := s.Remote.List(ctx, PacksPrefix, func(fi Info) error {
		if id, err := objects.ParseID(strings.TrimPrefix(fi.Name, PacksPrefix)); err == nil {
			out[id] = fi
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.Remote, err)
	}
	return out, nil
}

// saveIndexCache records an index file this client wrote to the remote.
func (s *Syncer) saveIndexCache(name string, b []byte) {
	cache := filepath.Join(s.CacheDir, "index")
	if err := os.MkdirAll(cache, 0o755); err == nil {
		_ = objects.WriteFileAtomic(filepath.Join(cache, name), b, 0o644)
	}
}
