package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// cutStore serves data (Get only) and cuts the first cuts bodies it
// returns after limit bytes.
type cutStore struct {
	Store
	data  []byte
	cuts  int
	limit int64
	gets  int
}

type cutBody struct {
	io.Reader
	io.Closer
}

func (c *cutStore) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if name != "packs/p" || off+length > int64(len(c.data)) {
		return nil, ErrNotFound
	}
	rc := io.NopCloser(bytes.NewReader(c.data[off : off+length]))
	c.gets++
	if c.cuts > 0 {
		c.cuts--
		return cutBody{io.LimitReader(rc, c.limit), rc}, nil
	}
	return rc, nil
}

// TestRangeStream reads pieces of a range (with gaps read through, and
// one piece before the last) from bodies cut off mid-way: each piece is
// right, and a range cut more often than readRangeAttempts fails with
// io.ErrUnexpectedEOF.
func TestRangeStream(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	cs := &cutStore{data: data, cuts: readRangeAttempts - 1, limit: 1500}
	rs := newRangeStream(ctx, cs, "packs/p", 100, 9000)
	defer rs.Close()
	for _, p := range []struct{ off, n int64 }{{100, 1000}, {1500, 2000}, {3500, 10}, {1200, 50}, {8000, 1000}} {
		b := make([]byte, p.n)
		if err := rs.ReadAt(b, p.off); err != nil {
			t.Fatalf("ReadAt(%d+%d): %v", p.off, p.n, err)
		}
		if !bytes.Equal(b, data[p.off:p.off+p.n]) {
			t.Fatalf("ReadAt(%d+%d) read other bytes", p.off, p.n)
		}
	}
	if rs.requests != cs.gets {
		t.Fatalf("counted %d requests, made %d", rs.requests, cs.gets)
	}

	cs = &cutStore{data: data, cuts: readRangeAttempts, limit: 1500}
	rs2 := newRangeStream(ctx, cs, "packs/p", 0, 10000)
	defer rs2.Close()
	err := rs2.ReadAt(make([]byte, 9000), 0)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a range cut %d times: %v, want io.ErrUnexpectedEOF", readRangeAttempts, err)
	}
}
