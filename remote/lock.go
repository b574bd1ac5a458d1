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

// maxLockBlob bounds what is read of a lock blob (a small JSON object).
const maxLockBlob = 4 << 10

// Lock describes a lock blob on a remote: which operation holds it, on
// which host and process, and how old it is (zero when unknown).
type Lock struct {
	Name string        `json:"name"` // locks/push-…
	Kind string        `json:"kind"` // push or gc
	Host string        `json:"host,omitempty"`
	PID  int           `json:"pid,omitempty"`
	Age  time.Duration `json:"age_ns"`
}

func (l Lock) String() string {
	s := "a " + l.Kind
	if l.Host != "" {
		s += fmt.Sprintf(" on host %s (pid %d)", l.Host, l.PID)
	}
	if l.Age > 0 {
		s += fmt.Sprintf(", started %s ago", l.Age.Round(time.Second))
	}
	return s + " (" + l.Name + ")"
}

// LockedError says that a conflicting operation holds the remote. It
// matches ErrLocked.
type LockedError struct {
	Remote string // the remote, as it is printed
	Lock   Lock
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s: %v by %v; try again when it is done (if that dv was killed, dv gc -r REMOTE --break-lock --yes removes the lock)",
		e.Remote, ErrLocked, e.Lock)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// readLock describes the lock blob fi: its owner from the blob (when it
// parses), its age from the remote's modification time, else the time the
// owner wrote in it.
func (s *Syncer) readLock(ctx context.Context, fi Info, now time.Time) Lock {
	l := Lock{Name: fi.Name, Kind: strings.SplitN(strings.TrimPrefix(fi.Name, LocksPrefix), "-", 2)[0]}
	var li lockInfo
	if b, err := ReadAllMax(ctx, s.Remote, fi.Name, maxLockBlob); err == nil && json.Unmarshal(b, &li) == nil {
		l.Host, l.PID = li.Host, li.PID
	}
	switch {
	case !fi.ModTime.IsZero():
		l.Age = now.Sub(fi.ModTime)
	case !li.Time.IsZero():
		l.Age = now.Sub(li.Time)
	}
	l.Age = max(l.Age, 0)
	return l
}

// Locks lists the remote's lock blobs.
func (s *Syncer) Locks(ctx context.Context) ([]Lock, error) {
	var infos []Info
	if err := s.Remote.List(ctx, LocksPrefix, func(fi Info) error {
		if !strings.HasSuffix(fi.Name, ".lock") { // a folder remote's PutIf guard
			infos = append(infos, fi)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", s.Remote, err)
	}
	now := time.Now()
	out := make([]Lock, 0, len(infos))
	for _, fi := range infos {
		out = append(out, s.readLock(ctx, fi, now))
	}
	return out, nil
}

// BreakLocks deletes every lock blob on the remote and returns what it
// deleted. It is for locks left by a dv killed on another host, younger
// than LockStale: the caller must be sure that no push or gc is running.
func (s *Syncer) BreakLocks(ctx context.Context) ([]Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	locks, err := s.Locks(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range locks {
		if err := s.Remote.Delete(ctx, l.Name); err != nil {
			return nil, fmt.Errorf("delete %s on %s: %w", l.Name, s.Remote, err)
		}
	}
	return locks, nil
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
	var other *Info
	err := s.Remote.List(ctx, LocksPrefix, func(fi Info) error {
		n := strings.TrimPrefix(fi.Name, LocksPrefix)
		if fi.Name == name || !strings.HasPrefix(n, conflicts+"-") || strings.HasSuffix(n, ".lock") {
			return nil
		}
		if !fi.ModTime.IsZero() && time.Since(fi.ModTime) > LockStale {
			return nil
		}
		other = &fi
		return nil
	})
	if err != nil {
		release()
		return nil, err
	}
	if other != nil {
		release()
		return nil, &LockedError{Remote: s.Remote.String(), Lock: s.readLock(ctx, *other, time.Now())}
	}
	return release, nil
}
