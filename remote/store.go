// Package remote moves dv's packs, index files and refs to and from a
// remote store: a folder, S3 (or any S3-compatible service), or memory.
//
// A Store holds named, immutable blobs ("packs/<id>", "index/<id>") and
// small mutable ones ("refs/<name>") that are only replaced by
// compare-and-swap. Push uploads packs, then an index naming them, then
// refs, so a reader never sees a ref whose data is missing; everything
// downloaded is re-hashed before use.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dv-ml/dv/objects"
)

// Sentinel errors. Implementations translate their own errors to these at
// the boundary.
var (
	// ErrNotFound means no blob has the name.
	ErrNotFound = errors.New("not found on the remote")
	// ErrPrecondition means a conditional put lost: the blob exists (for a
	// create) or changed (for a replace).
	ErrPrecondition = errors.New("remote blob changed concurrently")
	// ErrAuth means the credentials were refused.
	ErrAuth = errors.New("the remote refused the credentials")
	// ErrNoBucket means the bucket or folder does not exist.
	ErrNoBucket = errors.New("the remote bucket or folder does not exist")
	// ErrUnreachable means the remote could not be reached.
	ErrUnreachable = errors.New("the remote cannot be reached")
)

// Info describes a stored blob.
type Info struct {
	Name    string
	Size    int64
	ETag    string // opaque version tag for PutIf; may be empty from List
	ModTime time.Time
}

// Store is the contract every remote implements. All methods are safe for
// concurrent use; List calls fn from the calling goroutine.
//
//   - Put stores data under name atomically: a reader sees the old blob or
//     the whole new one, never a part. Puts are idempotent.
//   - Get returns length bytes from offset off (length < 0: to the end).
//     It returns ErrNotFound for a missing name. The caller closes the
//     reader. A short body is an error of the reader, not silently short.
//   - Stat returns the blob's size and ETag, or ErrNotFound.
//   - List calls fn for every blob whose name starts with prefix, in no
//     particular order; an error from fn stops the listing and is returned.
//   - Delete removes a blob; deleting a missing blob is not an error.
//   - PutIf is compare-and-swap for small blobs: with ifMatch == "" it
//     creates name only if absent; otherwise it replaces name only if its
//     current ETag is ifMatch. It returns ErrPrecondition when that fails.
//   - Reads are consistent after writes (read-after-write).
type Store interface {
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, name string) (Info, error)
	List(ctx context.Context, prefix string, fn func(Info) error) error
	Delete(ctx context.Context, name string) error
	PutIf(ctx context.Context, name string, data []byte, ifMatch string) (etag string, err error)
	Close() error
	// String describes the remote for messages, without credentials.
	String() string
}

// ReadAll fetches a whole blob of at most objects.MaxFileSize bytes.
func ReadAll(ctx context.Context, s Store, name string) ([]byte, error) {
	return ReadAllMax(ctx, s, name, objects.MaxFileSize)
}

// ReadAllMax fetches a whole blob, refusing one larger than max bytes
// before holding more than max+1 of them: a remote's index file or pack
// is bounded like a local one, whatever the remote sends.
func ReadAllMax(ctx context.Context, s Store, name string, max int64) ([]byte, error) {
	rc, err := s.Get(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, &objects.CorruptError{What: "remote file", Name: name, Reason: fmt.Sprintf("larger than %d bytes, the most a dv %s may be", max, fileKind(name))}
	}
	return b, nil
}

// fileKind names what a remote blob is, for messages.
func fileKind(name string) string {
	switch {
	case strings.HasPrefix(name, PacksPrefix):
		return "pack"
	case strings.HasPrefix(name, IndexPrefix):
		return "index file"
	}
	return "file"
}

// readRangeFirst is the most ReadRange allocates before any byte arrives.
const readRangeFirst = 16 << 20

// ReadRange fetches exactly length bytes at off. The buffer doubles as the
// bytes arrive, from at most readRangeFirst: an index may claim a range of
// hundreds of MiB past the end of a small pack, and that claim must not be
// allocated before the pack has shown it holds it.
func ReadRange(ctx context.Context, s Store, name string, off, length int64) ([]byte, error) {
	var err error
	b := make([]byte, min(length, readRangeFirst)) // kept across attempts
	for attempt := range readRangeAttempts {
		if b, err = readRangeOnce(ctx, s, name, off, length, b); err == nil {
			return b, nil
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		// A body cut off (a dropped connection, a proxy timeout): the
		// request itself succeeded, so the client's retries did not see
		// it. Read it again, after a short wait.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return nil, err
}

// readRangeAttempts is how many times a cut-off range read is tried.
const readRangeAttempts = 4

// readRangeOnce reads the range into buf (grown as bytes arrive, never
// beyond length), returning it; on error it returns buf for the next try.
func readRangeOnce(ctx context.Context, s Store, name string, off, length int64, buf []byte) ([]byte, error) {
	rc, err := s.Get(ctx, name, off, length)
	if err != nil {
		return buf, err
	}
	defer rc.Close()
	b := buf[:min(int64(len(buf)), length)]
	for done := int64(0); ; {
		if _, err := io.ReadFull(rc, b[done:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return b, fmt.Errorf("read %s [%d+%d]: %w", name, off, length, err)
		}
		if done = int64(len(b)); done == length {
			return b, nil
		}
		nb := make([]byte, min(length, 2*done))
		copy(nb, b)
		b = nb
	}
}
