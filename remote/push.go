package remote

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/dv-ml/dv/objects"
)

// PushStats reports a push.
type PushStats struct {
	Objects       int   `json:"objects"`        // objects uploaded
	Bytes         int64 `json:"bytes"`          // pack bytes uploaded
	Packs         int   `json:"packs"`          // packs uploaded
	AlreadyThere  int   `json:"already_remote"` // needed objects the remote had
	MissingLocal  int   `json:"missing_local"`  // roots not in the local store
	IndexUploaded bool  `json:"index_uploaded"`
}

// Push uploads every object reachable from roots that the remote lacks:
// whole local packs when the remote lacks all their objects, otherwise new
// packs holding just the missing objects. Packs go first, then one index
// file naming them; a push killed before the index leaves only unindexed
// packs, which the next push re-uses and remote gc removes.
func (s *Syncer) Push(ctx context.Context, roots []objects.ID) (PushStats, error) {
	var st PushStats
	var present []objects.ID
	for _, r := range roots {
		if s.Local.Has(r) {
			present = append(present, r)
		} else {
			st.MissingLocal++
		}
	}
	needed, err := s.Local.Reachable(ctx, present)
	if err != nil {
		return st, err
	}
	ridx, err := s.LoadIndex(ctx)
	if err != nil {
		return st, err
	}
	if len(missingFrom(needed, ridx)) == 0 {
		st.AlreadyThere = len(needed)
		return st, nil
	}
	// Something to upload: hold a push lock so that no gc deletes what this
	// push counts on, and read the index again under it.
	release, err := s.lock(ctx, "push", "gc")
	if err != nil {
		return st, err
	}
	defer release()
	if ridx, err = s.LoadIndex(ctx); err != nil {
		return st, err
	}
	missing := missingFrom(needed, ridx)
	st.AlreadyThere = len(needed) - len(missing)
	remotePacks, err := s.ListPacks(ctx)
	if err != nil {
		return st, err
	}
	whole, loose := s.planPush(missing, ridx)
	uploaded, err := s.uploadPacks(ctx, whole, loose, remotePacks)
	if err != nil {
		return st, err
	}
	for _, pi := range uploaded {
		st.Packs++
		st.Objects += len(pi.Entries)
		for _, e := range pi.Entries {
			st.Bytes += int64(e.Length)
		}
	}
	// Then the index that makes them visible.
	sort.Slice(uploaded, func(i, j int) bool { return uploaded[i].Pack.String() < uploaded[j].Pack.String() })
	data, name := objects.EncodeIndex(uploaded)
	if err := s.Remote.Put(ctx, IndexPrefix+name, bytes.NewReader(data), int64(len(data))); err != nil {
		return st, fmt.Errorf("push index: %w", err)
	}
	s.saveIndexCache(name, data)
	st.IndexUploaded = true
	return st, nil
}

// planPush splits the missing objects: local packs the remote lacks whole
// go as they are; the other missing objects are repacked (loose, sorted).
func (s *Syncer) planPush(missing map[objects.ID]bool, ridx *Index) (whole []objects.PackIndex, loose []objects.Entry) {
	for pack, entries := range s.Local.Packs() {
		n := 0
		for _, e := range entries {
			if missing[e.ID] {
				n++
			}
		}
		switch {
		case n == 0:
		case n == len(entries) && !ridx.Packs[pack]:
			whole = append(whole, objects.PackIndex{Pack: pack, Entries: entries})
		default:
			for _, e := range entries {
				if missing[e.ID] {
					loose = append(loose, e)
				}
			}
		}
	}
	sort.Slice(loose, func(i, j int) bool { return loose[i].ID.String() < loose[j].ID.String() })
	return whole, loose
}

// uploadPacks uploads the whole packs (verified first) and new packs of
// the loose objects, at most s.jobs() at a time, and returns the packs now
// on the remote for the index to name.
func (s *Syncer) uploadPacks(ctx context.Context, whole []objects.PackIndex, loose []objects.Entry, remotePacks map[objects.ID]Info) ([]objects.PackIndex, error) {
	var uploaded []objects.PackIndex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.jobs())
	var mu sync.Mutex
	done := func(pi objects.PackIndex) {
		mu.Lock()
		uploaded = append(uploaded, pi)
		mu.Unlock()
	}
	for _, p := range whole {
		g.Go(func() error {
			if fi, ok := remotePacks[p.Pack]; !ok || fi.Size <= 0 {
				if err := s.uploadPackFile(gctx, p); err != nil {
					return err
				}
			}
			done(p)
			return nil
		})
	}
	// Repack the loose objects; building runs here, uploads in the group.
	b := objects.NewPackBuilder()
	flush := func() {
		if b.Len() == 0 {
			return
		}
		data, pi := b.Finish()
		b = objects.NewPackBuilder()
		g.Go(func() error {
			if _, ok := remotePacks[pi.Pack]; !ok {
				if err := s.Remote.Put(gctx, PacksPrefix+pi.Pack.String(), bytes.NewReader(data), int64(len(data))); err != nil {
					return fmt.Errorf("push pack %s: %w", pi.Pack.Short(), err)
				}
				s.progress(int64(len(data)))
			}
			done(pi)
			return nil
		})
	}
	for _, e := range loose {
		if gctx.Err() != nil {
			break
		}
		le, stored, err := s.Local.LoadStored(gctx, e.ID)
		if err != nil {
			_ = g.Wait()
			return nil, fmt.Errorf("push: %w", err)
		}
		b.Add(le, stored)
		if b.Size() >= objects.PackTargetSize {
			flush()
		}
	}
	flush()
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return uploaded, nil
}

// uploadPackFile uploads a local pack after verifying every object in it
// against its id (the pack's name covers only its trailer), so a damaged
// local pack is never spread. The file is read once; objects are checked
// in that buffer, in file order, before the upload starts.
func (s *Syncer) uploadPackFile(ctx context.Context, p objects.PackIndex) error {
	path := s.Local.PackPath(p.Pack)
	b, err := objects.ReadFileMax(path, "pack", objects.MaxFileSize)
	if err != nil {
		return fmt.Errorf("push pack %s: %w", p.Pack.Short(), err)
	}
	entries, err := objects.VerifyPack(b, p.Pack)
	if err != nil {
		return fmt.Errorf("%w; not pushed (run dv fsck)", err)
	}
	// The index's entries must be the trailer's: those are what the
	// remote index will list.
	inPack := make(map[objects.ID]objects.Entry, len(entries))
	for _, e := range entries {
		inPack[e.ID] = e
	}
	for _, e := range p.Entries {
		if inPack[e.ID] != e {
			return &objects.CorruptError{What: "object", Name: e.ID.String(),
				Reason: fmt.Sprintf("the local index places it in pack %s, whose trailer disagrees; not pushed (run dv fsck)", p.Pack.Short())}
		}
	}
	if err := s.Remote.Put(ctx, PacksPrefix+p.Pack.String(), bytes.NewReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("push pack %s: %w", p.Pack.Short(), err)
	}
	s.progress(int64(len(b)))
	return nil
}

func missingFrom(needed map[objects.ID]bool, ridx *Index) map[objects.ID]bool {
	missing := map[objects.ID]bool{}
	for id := range needed {
		if _, ok := ridx.Objects[id]; !ok {
			missing[id] = true
		}
	}
	return missing
}
