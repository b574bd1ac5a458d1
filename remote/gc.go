package remote

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dv-ml/dv/objects"
)

// GCStats reports a remote gc.
type GCStats struct {
	Live             int   `json:"live_objects"`
	Removed          int   `json:"removed_objects"`
	RemovedBytes     int64 `json:"removed_bytes"`
	PacksDeleted     int   `json:"packs_deleted"`
	PacksRewritten   int   `json:"packs_rewritten"`
	UnindexedPacks   int   `json:"unindexed_packs_deleted"`
	IndexFilesMerged int   `json:"index_files_merged"`
	KeptYoung        int   `json:"kept_young"` // packs and index files inside the grace period
}

// Reachable returns every object reachable from roots, reading trees and
// lists from the local store or, when it lacks them, downloading them
// (never blobs) from the remote.
func (s *Syncer) Reachable(ctx context.Context, ridx *Index, roots []objects.ID) (map[objects.ID]bool, error) {
	live := map[objects.ID]bool{}
	frontier := roots
	for len(frontier) > 0 {
		var next, fetch []objects.ID
		for _, id := range frontier {
			if live[id] {
				continue
			}
			l, local := s.Local.Lookup(id)
			rl, onRemote := ridx.Objects[id]
			if !local && !onRemote {
				continue
			}
			live[id] = true
			t := l.Type
			if !local {
				t = rl.Type
			}
			if t == objects.TypeBlob {
				continue
			}
			if !local {
				fetch = append(fetch, id)
				continue
			}
			kids, err := s.Local.Children(ctx, id)
			if err != nil {
				return nil, err
			}
			next = append(next, kids...)
		}
		if len(fetch) > 0 {
			if _, err := s.FetchOne(ctx, ridx, fetch); err != nil {
				return nil, err
			}
			for _, id := range fetch {
				kids, err := s.Local.Children(ctx, id)
				if err != nil {
					return nil, err
				}
				next = append(next, kids...)
			}
		}
		frontier = next
	}
	return live, nil
}

// GC deletes from the remote every object not reachable from roots (plus
// the remote's own refs). Packs and index files younger than grace are
// kept whole, with everything they hold, for pushes in flight. Packs
// holding only dead objects are deleted; mixed packs are rewritten. A
// "gc" lock keeps pushes out meanwhile.
func (s *Syncer) GC(ctx context.Context, roots []objects.ID, grace time.Duration, dryRun bool) (GCStats, error) {
	var st GCStats
	if !dryRun {
		release, err := s.lock(ctx, "gc", "push")
		if err != nil {
			return st, err
		}
		defer release()
	}
	rrefs, err := s.RemoteRefs(ctx)
	if err != nil {
		return st, err
	}
	for _, id := range rrefs {
		roots = append(roots, id)
	}
	ridx, err := s.LoadIndex(ctx)
	if err != nil {
		return st, err
	}
	live, err := s.Reachable(ctx, ridx, roots)
	if err != nil {
		return st, err
	}
	yf, err := s.youngFiles(ctx, time.Now().Add(-grace))
	if err != nil {
		return st, err
	}
	st.KeptYoung = yf.kept
	plan := planGC(ridx, yf.young, live, &st)
	var orphans []objects.ID
	for p := range yf.packs {
		if _, indexed := ridx.Packs[p]; !indexed && !yf.young[p] {
			orphans = append(orphans, p)
		}
	}
	st.UnindexedPacks = len(orphans)
	st.Live = len(live)
	st.IndexFilesMerged = len(yf.oldIndex)
	if dryRun {
		return st, nil
	}
	return st, s.applyGC(ctx, plan, yf.oldIndex, append(plan.doomed, orphans...))
}

// gcFiles is what the remote holds, split by the grace period.
type gcFiles struct {
	oldIndex []string            // index files older than the grace period
	packs    map[objects.ID]Info // every pack
	young    map[objects.ID]bool // packs to keep whole: young, or named by a young index file
	kept     int                 // young packs and index files
}

// youngFiles lists the index files and packs; those modified after cutoff,
// and the packs young index files name, stay whole (pushes in flight).
func (s *Syncer) youngFiles(ctx context.Context, cutoff time.Time) (gcFiles, error) {
	f := gcFiles{young: map[objects.ID]bool{}}
	var youngIndex []string
	err := s.Remote.List(ctx, IndexPrefix, func(fi Info) error {
		n := strings.TrimPrefix(fi.Name, IndexPrefix)
		if fi.ModTime.After(cutoff) {
			youngIndex = append(youngIndex, n)
		} else {
			f.oldIndex = append(f.oldIndex, n)
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	if f.packs, err = s.ListPacks(ctx); err != nil {
		return f, err
	}
	for p, fi := range f.packs {
		if fi.ModTime.After(cutoff) {
			f.young[p] = true
			f.kept++
		}
	}
	for _, n := range youngIndex {
		f.kept++
		b, err := ReadAllMax(ctx, s.Remote, IndexPrefix+n, objects.MaxFileSize)
		if err != nil {
			return f, err
		}
		pis, err := objects.DecodeIndex(b)
		if err != nil {
			return f, &objects.CorruptError{What: "remote index", Name: n, Reason: err.Error(), Err: err}
		}
		for _, pi := range pis {
			f.young[pi.Pack] = true
		}
	}
	return f, nil
}

// gcPlan says what happens to each indexed pack.
type gcPlan struct {
	keepWhole []objects.PackIndex // stays as it is
	rewrite   []objects.PackIndex // its live objects go to new packs
	doomed    []objects.ID        // deleted once the new index is written
}

// planGC sorts the indexed packs into kept, rewritten and deleted ones,
// counting what goes in st.
func planGC(ridx *Index, young, live map[objects.ID]bool, st *GCStats) gcPlan {
	var plan gcPlan
	byPack := map[objects.ID][]objects.Entry{}
	for _, l := range ridx.Objects {
		byPack[l.Pack] = append(byPack[l.Pack], l.Entry)
	}
	for p, es := range byPack {
		if young[p] {
			// Kept whole; re-listed so that merging the old index files
			// never drops it.
			plan.keepWhole = append(plan.keepWhole, objects.PackIndex{Pack: p, Entries: es})
			continue
		}
		var liveEs []objects.Entry
		for _, e := range es {
			if live[e.ID] {
				liveEs = append(liveEs, e)
			} else {
				st.Removed++
				st.RemovedBytes += int64(e.Length)
			}
		}
		switch {
		case len(liveEs) == len(es):
			plan.keepWhole = append(plan.keepWhole, objects.PackIndex{Pack: p, Entries: es})
		case len(liveEs) == 0:
			st.PacksDeleted++
			plan.doomed = append(plan.doomed, p)
		default:
			st.PacksRewritten++
			plan.rewrite = append(plan.rewrite, objects.PackIndex{Pack: p, Entries: liveEs})
			plan.doomed = append(plan.doomed, p)
		}
	}
	return plan
}

// applyGC carries out a plan: new packs for the live objects of mixed
// packs, one index file for everything that stays (then the old index
// files go), then the packs nothing indexes any more.
func (s *Syncer) applyGC(ctx context.Context, plan gcPlan, oldIndex []string, doomed []objects.ID) error {
	newPacks, err := s.rewritePacks(ctx, plan.rewrite)
	if err != nil {
		return err
	}
	merged := slices.Concat(plan.keepWhole, newPacks)
	sort.Slice(merged, func(i, j int) bool { return merged[i].Pack.String() < merged[j].Pack.String() })
	data, name := objects.EncodeIndex(merged)
	if err := s.Remote.Put(ctx, IndexPrefix+name, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("gc: write index: %w", err)
	}
	s.saveIndexCache(name, data)
	for _, n := range oldIndex {
		if n != name {
			if err := s.Remote.Delete(ctx, IndexPrefix+n); err != nil {
				return fmt.Errorf("gc: %w", err)
			}
		}
	}
	for _, p := range doomed {
		if err := s.Remote.Delete(ctx, PacksPrefix+p.String()); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
	}
	return nil
}

// rewritePacks downloads the live objects of packs and uploads them as
// new packs, returning their index entries.
func (s *Syncer) rewritePacks(ctx context.Context, packs []objects.PackIndex) ([]objects.PackIndex, error) {
	var out []objects.PackIndex
	b := objects.NewPackBuilder()
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		data, pi := b.Finish()
		b = objects.NewPackBuilder()
		if err := s.Remote.Put(ctx, PacksPrefix+pi.Pack.String(), bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("gc: write pack: %w", err)
		}
		out = append(out, pi)
		return nil
	}
	for _, p := range packs {
		ridx := &Index{Objects: map[objects.ID]objects.Loc{}}
		ids := make([]objects.ID, len(p.Entries))
		for i, e := range p.Entries {
			ridx.Objects[e.ID] = objects.Loc{Pack: p.Pack, Entry: e}
			ids[i] = e.ID
		}
		for _, sp := range plan(ridx, ids) {
			raw, err := ReadRange(ctx, s.Remote, PacksPrefix+sp.pack.String(), int64(sp.off), int64(sp.end-sp.off))
			if err != nil {
				return nil, fmt.Errorf("gc: read pack %s: %w", sp.pack.Short(), err)
			}
			for _, e := range sp.entries {
				stored := raw[e.Offset-sp.off : e.Offset-sp.off+uint64(e.Length)]
				if err := objects.VerifyStored(e, stored); err != nil {
					return nil, &objects.CorruptError{What: "remote object", Name: e.ID.String(), Reason: fmt.Sprintf("in pack %s: %v; gc stopped, nothing deleted", sp.pack.Short(), err)}
				}
				b.Add(e, stored)
				if b.Size() >= objects.PackTargetSize {
					if err := flush(); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return out, flush()
}
