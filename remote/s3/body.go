package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errSize is a Put whose reader did not hold the size it was given.
var errSize = errors.New("the data does not match its declared size")

// exactBody returns a seekable body of exactly size bytes from r, so the
// SDK can checksum it and rewind it for retries. A seekable r is used in
// place; any other r is read into memory (bodies here are under 32 MiB).
func exactBody(r io.Reader, size int64) (io.ReadSeeker, error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if n, ok := remaining(rs); ok {
			if n != size {
				return nil, fmt.Errorf("reader holds %d bytes, size says %d: %w", n, size, errSize)
			}
			return rs, nil
		}
	}
	buf := make([]byte, size)
	if n, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reader ended after %d of %d bytes: %w", n, size, errSize)
		}
		return nil, fmt.Errorf("read the data: %w", err)
	}
	if err := atEOF(r); err != nil {
		return nil, err
	}
	return bytes.NewReader(buf), nil
}

// remaining returns how many bytes rs holds past its position, or false if
// it cannot seek (a pipe, say).
func remaining(rs io.ReadSeeker) (int64, bool) {
	cur, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false
	}
	end, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, false
	}
	if _, err := rs.Seek(cur, io.SeekStart); err != nil {
		return 0, false
	}
	return end - cur, true
}

// atEOF checks that r holds nothing more.
func atEOF(r io.Reader) error {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	switch {
	case n > 0:
		return fmt.Errorf("reader holds more bytes than its size: %w", errSize)
	case errors.Is(err, io.EOF):
		return nil
	default:
		return fmt.Errorf("read the data: %w", err)
	}
}

// exactReader passes r through and fails unless it holds exactly left
// bytes; the multipart uploader then aborts the upload.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		if err := atEOF(e.r); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) {
		if e.left > 0 {
			return n, fmt.Errorf("reader ended %d bytes early: %w", e.left, errSize)
		}
		return n, io.EOF
	}
	return n, err
}

// body is a GetObject body that must deliver want bytes (want < 0: any).
type body struct {
	rc   io.ReadCloser
	left int64
	url  string
}

func (b *body) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		if b.left > 0 {
			return n, fmt.Errorf("s3 get %s: body ended %d bytes early: %w", b.url, b.left, io.ErrUnexpectedEOF)
		}
		return n, io.EOF
	default:
		return n, fmt.Errorf("s3 get %s: %w", b.url, err)
	}
}

func (b *body) Close() error { return b.rc.Close() }
