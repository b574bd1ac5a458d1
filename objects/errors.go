package objects

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound means the store holds no object with the id.
	ErrNotFound = errors.New("object not found")
	// ErrCorrupt means stored bytes do not match their id or format.
	ErrCorrupt = errors.New("integrity error")
	// ErrAmbiguous means a short id matches several objects.
	ErrAmbiguous = errors.New("ambiguous short id")
)

// CorruptError reports damaged data: an object whose bytes do not hash to
// its id, a file cut short, or a file that does not parse. It matches
// ErrCorrupt. I/O errors that say nothing about the bytes (permission
// denied, too many open files) are never a CorruptError.
type CorruptError struct {
	What   string // "object", "pack", "index", "tree", ...
	Name   string // object id or file name
	Reason string // what is wrong, for people
	Err    error  // the cause, if any (io.ErrUnexpectedEOF, a parse error)
}

func (e *CorruptError) Error() string {
	reason := e.Reason
	if reason == "" && e.Err != nil {
		reason = e.Err.Error()
	}
	return fmt.Sprintf("integrity error: %s %s: %s", e.What, e.Name, reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// NotFoundError names the missing object. It matches ErrNotFound.
type NotFoundError struct{ ID ID }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("object %s not found in the store", e.ID.Short())
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func corrupt(what, name, format string, args ...any) *CorruptError {
	return &CorruptError{What: what, Name: name, Reason: fmt.Sprintf(format, args...)}
}
