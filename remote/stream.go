package remote

import (
	"context"
	"errors"
	"io"
	"time"
)

// rangeStream reads one range of a remote file front to back in pieces, so
// that a fetch verifies and stores each object as it arrives instead of
// holding the whole range (up to 64 MiB per job) in memory. A body cut off
// mid-way (a dropped connection, a proxy timeout) is asked for again from
// where it stopped, up to readRangeAttempts times in all.
type rangeStream struct {
	ctx  context.Context
	s    Store
	name string
	pos  int64 // the offset of the next byte rc returns
	end  int64
	rc   io.ReadCloser

	tries    int
	requests int   // ranged GETs made
	read     int64 // bytes received
}

func newRangeStream(ctx context.Context, s Store, name string, off, end int64) *rangeStream {
	return &rangeStream{ctx: ctx, s: s, name: name, pos: off, end: end}
}

// Close ends the current request.
func (r *rangeStream) Close() {
	if r.rc != nil {
		_ = r.rc.Close()
		r.rc = nil
	}
}

// ReadAt fills b with the bytes at off, which lies within the range;
// bytes between the last read and off are read through (an offset before
// it starts a new request).
func (r *rangeStream) ReadAt(b []byte, off int64) error {
	if off < r.pos {
		r.Close()
		r.pos = off
	}
	done := 0
	for {
		err := r.readOnce(b, off, &done)
		if err == nil {
			return nil
		}
		r.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			return err
		}
		if r.tries++; r.tries >= readRangeAttempts {
			return err
		}
		// The request itself succeeded, so the client's retries did not
		// see the cut: read on from here, after a short wait.
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-time.After(time.Duration(r.tries) * 100 * time.Millisecond):
		}
	}
}

func (r *rangeStream) readOnce(b []byte, off int64, done *int) error {
	if r.rc == nil {
		rc, err := r.s.Get(r.ctx, r.name, r.pos, r.end-r.pos)
		if err != nil {
			return err
		}
		r.rc = rc
		r.requests++
	}
	if gap := off - r.pos; gap > 0 {
		n, err := io.CopyN(io.Discard, r.rc, gap)
		r.pos += n
		r.read += n
		if err != nil {
			return cutOff(err)
		}
	}
	n, err := io.ReadFull(r.rc, b[*done:])
	*done += n
	r.pos += int64(n)
	r.read += int64(n)
	return cutOff(err)
}

// cutOff reports a body that ended early as io.ErrUnexpectedEOF.
func cutOff(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
