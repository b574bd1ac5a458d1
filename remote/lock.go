package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// LocksPrefix holds the remote's lock blobs. A push holds a "push" lock
// while it uploads; gc holds a "gc" lock. Each side, after writing its own
// lock, lists the others and backs off if the other kind is present, so a
// gc never deletes an object that a push in flight counted on.
const LocksPrefix = "locks/"

// LockStale is the age after which a lock is taken to be left by a killed
// process and ignored.
const LockStale = 30 * time.Minute

// ErrLocked means the remote is locked by an operation that conflicts.
var ErrLocked = errors.New("remote is locked")

type lockInfo struct {
	Kind string    `json:"kind"`
	Host string    `json:"host"`
	PID  int       `json:"pid"`
	Time time.Time `json:"time"`
}

// lock takes a lock of kind ("push" or "gc") and returns its release.
func (s *Syncer) lock(ctx context.Context, kind, conflicts string) (func(), error) {
	rnd := make([]byte, 8)
	_, _ = rand.Read(rnd)
	host, _ := os.Hostname()
	name := LocksPrefix + kind + "-" + hex.EncodeToString(rnd)
	b, _ := json.Marshal(lockInfo{Kind: kind, Host: host, PID: os.Getpid(), Time: time.Now().UTC()})
	if _, err := s.Remote.PutIf(ctx, name, b, ""); err != nil {
		return nil, fmt.Errorf("lock %s: %w", s.Remote, err)
	}
	release := func() { _ = s.Remote.Delete(context.WithoutCancel(ctx), name) }
	var other string
	err := s.Remote.List(ctx, LocksPrefix, func(fi Info) error {
		n := strings.TrimPrefix(fi.Name, LocksPrefix)
		if fi.Name == name || !strings.HasPrefix(n, conflicts+"-") {
			return nil
		}
		if !fi.ModTime.IsZero() && time.Since(fi.ModTime) > LockStale {
			return nil
		}
		other = fi.Name
		return nil
	})
	if err != nil {
		release()
		return nil, err
	}
	if other != "" {
		release()
		return nil, fmt.Errorf("%s: %w by %s; try again when it is done (or delete it if it was left by a killed dv)", s.Remote, ErrLocked, other)
	}
	return release, nil
}
