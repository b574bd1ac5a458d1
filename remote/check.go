package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/dv-ml/dv/objects"
)

// CheckStats counts what Check examined on a remote.
type CheckStats struct {
	IndexFiles int   `json:"index_files"`
	Packs      int   `json:"packs"`
	Objects    int   `json:"objects"`
	Bytes      int64 `json:"bytes"`
	Unindexed  int   `json:"unindexed_packs"`
}

// Check downloads and verifies every pack the remote's index names: each
// pack against its name and trailer, each object against its id. Index
// files are checked by LoadIndex. Problems go to bad.
func (s *Syncer) Check(ctx context.Context, bad func(*objects.CorruptError)) (CheckStats, error) {
	var st CheckStats
	ridx, err := s.LoadIndex(ctx)
	if err != nil {
		if ce, ok := err.(*objects.CorruptError); ok {
			bad(ce)
			return st, nil
		}
		return st, err
	}
	st.IndexFiles = len(ridx.Files)
	// Refs: each must parse and name a record the index holds.
	if rrefs, err := s.RemoteRefs(ctx); err != nil {
		var ce *objects.CorruptError
		if !errors.As(err, &ce) {
			return st, err
		}
		bad(ce)
	} else {
		for name, id := range rrefs {
			if _, ok := ridx.Objects[id]; !ok {
				bad(&objects.CorruptError{What: "remote ref", Name: name, Reason: fmt.Sprintf("names %s, which the remote lacks", id.Short())})
			}
		}
	}
	onRemote, err := s.ListPacks(ctx)
	if err != nil {
		return st, err
	}
	byPack := map[objects.ID][]objects.Entry{}
	for _, l := range ridx.Objects {
		byPack[l.Pack] = append(byPack[l.Pack], l.Entry)
	}
	for p := range onRemote {
		if !ridx.Packs[p] {
			st.Unindexed++
		}
	}
	var mu sync.Mutex
	report := func(ce *objects.CorruptError) {
		mu.Lock()
		bad(ce)
		mu.Unlock()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.jobs())
	for p, entries := range byPack {
		if _, ok := onRemote[p]; !ok {
			for _, e := range entries {
				report(&objects.CorruptError{What: "remote object", Name: e.ID.String(), Reason: fmt.Sprintf("its pack %s is missing on %s", p.Short(), s.Remote)})
			}
			continue
		}
		g.Go(func() error {
			b, err := ReadAllMax(gctx, s.Remote, PacksPrefix+p.String(), objects.MaxFileSize)
			if err != nil {
				return err
			}
			s.progress(int64(len(b)))
			if id, err := objects.PackID(b); err != nil || id != p {
				report(&objects.CorruptError{What: "remote pack", Name: p.String(), Reason: "content does not match its name"})
			}
			for _, e := range entries {
				end := e.Offset + uint64(e.Length)
				if end > uint64(len(b)) {
					report(&objects.CorruptError{What: "remote object", Name: e.ID.String(), Reason: "extends past the end of pack " + p.Short()})
					continue
				}
				if err := objects.VerifyStored(e, b[e.Offset:end]); err != nil {
					report(&objects.CorruptError{What: "remote object", Name: e.ID.String(), Reason: fmt.Sprintf("in pack %s: %v", p.Short(), err)})
				}
			}
			mu.Lock()
			st.Packs++
			st.Objects += len(entries)
			st.Bytes += int64(len(b))
			mu.Unlock()
			return nil
		})
	}
	return st, g.Wait()
}

// Missing returns how many objects reachable from roots (in the local
// store) the remote with index ridx lacks, and their stored bytes.
func (s *Syncer) Missing(ctx context.Context, ridx *Index, roots []objects.ID) (int, int64, error) {
	var present []objects.ID
	for _, r := range roots {
		if s.Local.Has(r) {
			present = append(present, r)
		}
	}
	needed, err := s.Local.Reachable(ctx, present)
	if err != nil {
		return 0, 0, err
	}
	n, bytes := 0, int64(0)
	for id := range needed {
		if _, ok := ridx.Objects[id]; !ok {
			n++
			if l, ok := s.Local.Lookup(id); ok {
				bytes += int64(l.Length)
			}
		}
	}
	return n, bytes, nil
}
