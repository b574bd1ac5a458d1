package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/refs"
)

// tracking is where the last known value of each remote ref is kept.
func (s *Syncer) tracking() *refs.Store { return refs.Open(filepath.Join(s.CacheDir, "refs")) }

func refBlob(id objects.ID) []byte { return []byte(id.String() + "\n") }

// maxRefBlob bounds what is read of a remote ref (64 hex digits and a
// newline): a hostile remote may serve gigabytes for one, or a folder
// remote hold a link to /dev/zero.
const maxRefBlob = 1 << 10

// readRefBlob reads the remote ref name, refusing one larger than a ref.
func readRefBlob(ctx context.Context, st Store, name string) ([]byte, error) {
	rc, err := st.Get(ctx, RefsPrefix+name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRefBlob+1))
	if err != nil {
		return nil, fmt.Errorf("read %s%s: %w", RefsPrefix, name, err)
	}
	if len(b) > maxRefBlob {
		return nil, &objects.CorruptError{What: "remote ref", Name: name, Reason: fmt.Sprintf("larger than %d bytes: not a ref", maxRefBlob)}
	}
	return b, nil
}

func parseRefBlob(name string, b []byte) (objects.ID, error) {
	id, err := objects.ParseID(strings.TrimSpace(string(b)))
	if err != nil {
		return id, &objects.CorruptError{What: "remote ref", Name: name, Reason: err.Error(), Err: err}
	}
	return id, nil
}

// setTracking records the remote's value of name (zero: absent).
func (s *Syncer) setTracking(ctx context.Context, name string, id objects.ID) error {
	t := s.tracking()
	old, err := t.Get(name)
	if err != nil && !errors.Is(err, refs.ErrNotFound) {
		return err
	}
	if old == id {
		return nil
	}
	return t.CompareAndSwap(ctx, name, old, id)
}

// PushRefs moves each remote ref to its local value by compare-and-swap,
// expecting the value last seen on the remote. A ref that moved on the
// remote meanwhile is a conflict (refs.ErrConflict): fetch, then push
// again. Refs whose local value is the last seen remote value cost no
// request. It returns the names updated.
func (s *Syncer) PushRefs(ctx context.Context, local *refs.Store) ([]string, error) {
	names, vals, err := local.List()
	if err != nil {
		return nil, err
	}
	var updated []string
	var errs []error
	// A model's event chain goes before its aliases, and an alias whose
	// chain did not go is held back: a remote alias then never names an
	// event its remote chain lacks (see docs/registry.md).
	sort.SliceStable(names, func(i, j int) bool {
		return strings.HasPrefix(names[i], "events/") && !strings.HasPrefix(names[j], "events/")
	})
	chainFailed := map[string]bool{}
	for _, name := range names {
		want := vals[name]
		if model, ok := aliasModel(name); ok && chainFailed[model] {
			errs = append(errs, fmt.Errorf("ref %s: %w: not pushed, as events/%s did not go", name, refs.ErrConflict, model))
			continue
		}
		seen, err := s.tracking().Get(name)
		if err != nil && !errors.Is(err, refs.ErrNotFound) {
			return updated, err
		}
		if seen == want {
			continue
		}
		ok, err := s.pushRef(ctx, name, seen, want)
		if err != nil {
			if model, isChain := strings.CutPrefix(name, "events/"); isChain {
				chainFailed[model] = true
			}
			errs = append(errs, err)
			continue
		}
		if ok {
			updated = append(updated, name)
		}
	}
	return updated, errors.Join(errs...)
}

// aliasModel returns the model of an alias ref (aliases/MODEL/ALIAS).
func aliasModel(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "aliases/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i < 0 {
		return "", false
	}
	return rest[:i], true
}

func (s *Syncer) pushRef(ctx context.Context, name string, seen, want objects.ID) (bool, error) {
	key := RefsPrefix + name
	etag := ""
	fi, err := s.Remote.Stat(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return false, fmt.Errorf("push ref %s: %w", name, err)
	default:
		b, err := readRefBlob(ctx, s.Remote, name)
		if err != nil {
			return false, fmt.Errorf("push ref %s: %w", name, err)
		}
		cur, err := parseRefBlob(name, b)
		if err != nil {
			return false, err
		}
		if cur == want {
			return false, s.setTracking(ctx, name, want)
		}
		if cur != seen {
			return false, fmt.Errorf("ref %s on %s: %w: it moved to %s since your last fetch (yours: %s); run dv fetch, then decide", name, s.Remote, refs.ErrConflict, cur.Short(), want.Short())
		}
		etag = fi.ETag
	}
	if _, err := s.Remote.PutIf(ctx, key, refBlob(want), etag); err != nil {
		if errors.Is(err, ErrPrecondition) {
			return false, fmt.Errorf("ref %s on %s: %w: another push moved it first; run dv fetch, then decide", name, s.Remote, refs.ErrConflict)
		}
		return false, fmt.Errorf("push ref %s: %w", name, err)
	}
	return true, s.setTracking(ctx, name, want)
}

// RemoteRefs reads every ref on the remote.
func (s *Syncer) RemoteRefs(ctx context.Context) (map[string]objects.ID, error) {
	var names []string
	err := s.Remote.List(ctx, RefsPrefix, func(fi Info) error {
		names = append(names, strings.TrimPrefix(fi.Name, RefsPrefix))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	out := map[string]objects.ID{}
	for _, name := range names {
		if refs.ValidName(name) != nil {
			continue // not written by dv
		}
		b, err := readRefBlob(ctx, s.Remote, name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		id, err := parseRefBlob(name, b)
		if err != nil {
			return nil, err
		}
		out[name] = id
	}
	return out, nil
}

// ApplyRefs records the remote's refs as last seen and moves each local
// ref that has not moved since the last fetch (or does not exist) to the
// remote's value. Call it after fetching the refs' data, so a local ref
// never names data that is missing. It returns the names whose local value
// diverged and was kept.
func (s *Syncer) ApplyRefs(ctx context.Context, local *refs.Store, remoteRefs map[string]objects.ID) ([]string, error) {
	var diverged []string
	names := make([]string, 0, len(remoteRefs))
	for n := range remoteRefs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		id := remoteRefs[name]
		seen, _ := s.tracking().Get(name)
		cur, err := local.Get(name)
		switch {
		case errors.Is(err, refs.ErrNotFound):
			err = local.CompareAndSwap(ctx, name, objects.ID{}, id)
		case err != nil:
		case cur == id:
		case cur == seen:
			err = local.CompareAndSwap(ctx, name, cur, id)
		default:
			diverged = append(diverged, name)
		}
		if err != nil {
			return nil, err
		}
		if err := s.setTracking(ctx, name, id); err != nil {
			return nil, err
		}
	}
	return diverged, nil
}
