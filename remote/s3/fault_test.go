package s3

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dv-ml/dv/remote"
)

// faultProxy stands between a Store and versitygw on loopback and breaks
// requests on demand.
type faultProxy struct {
	url    string
	always atomic.Bool  // answer 503 to every request
	fail   atomic.Int64 // answer 503 to this many requests, unforwarded
	lose   atomic.Int64 // forward this many, then answer 503 instead
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	// The proxy keeps the Host header the client signed.
	rp := httputil.NewSingleHostReverseProxy(u)
	fp := &faultProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case fp.always.Load() || fp.fail.Add(-1) >= 0:
			_, _ = io.Copy(io.Discard, r.Body)
		case fp.lose.Add(-1) >= 0:
			rp.ServeHTTP(httptest.NewRecorder(), r)
		default:
			rp.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Error><Code>ServiceUnavailable</Code><Message>injected by the test proxy</Message></Error>`)
	}))
	t.Cleanup(srv.Close)
	fp.url = srv.URL
	return fp
}

func faultStore(t *testing.T, attempts int) (*Store, *faultProxy, *Counter) {
	t.Helper()
	ep := endpoint(t)
	fp := newFaultProxy(t, ep)
	c := NewCounter(nil)
	s := open(t, Options{URL: "s3://" + newBucket(t, ep) + "/f", Endpoint: fp.url, PathStyle: true, Transport: c, MaxAttempts: attempts})
	return s, fp, c
}

func TestFaultRetried(t *testing.T) {
	s, fp, c := faultStore(t, 5)
	data := bytes.Repeat([]byte("retry"), 1000)
	fp.fail.Store(2)
	if err := s.Put(t.Context(), "packs/a", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put through two 503s: %v", err)
	}
	if c.Total() != 3 {
		t.Fatalf("put sent %d requests, want 3 (two refused, one through)", c.Total())
	}
	fp.fail.Store(2)
	got, err := remote.ReadAll(t.Context(), s, "packs/a")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get through two 503s: %d bytes, %v", len(got), err)
	}
	fp.fail.Store(3)
	big := make([]byte, multipartThreshold+1)
	if err := s.Put(t.Context(), "packs/big", onlyReader{bytes.NewReader(big)}, int64(len(big))); err != nil {
		t.Fatalf("multipart put through three 503s: %v", err)
	}
	if fi, err := s.Stat(t.Context(), "packs/big"); err != nil || fi.Size != int64(len(big)) {
		t.Fatalf("stat: %+v, %v", fi, err)
	}
	t.Logf("requests with 7 injected 503s: %v", c.Requests())
}

func TestFaultPersistent(t *testing.T) {
	s, fp, c := faultStore(t, 3)
	fp.always.Store(true)
	err := s.Put(t.Context(), "packs/a", strings.NewReader("x"), 1)
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("put: %v, want ErrUnreachable", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "HTTP 503") || !strings.Contains(msg, "after 3 attempts") {
		t.Fatalf("message does not say what failed: %q", msg)
	}
	t.Log(err)
	if c.Total() != 3 {
		t.Fatalf("put sent %d requests, want 3", c.Total())
	}
	if _, err := s.Stat(t.Context(), "packs/a"); !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("stat: %v, want ErrUnreachable", err)
	}
	_, err = s.PutIf(t.Context(), "refs/a", []byte("x"), "")
	if !errors.Is(err, remote.ErrUnreachable) || errors.Is(err, remote.ErrPrecondition) {
		t.Fatalf("put-if: %v, want ErrUnreachable only", err)
	}
	fp.always.Store(false)
	if _, err := s.Stat(t.Context(), "packs/a"); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("a failed put left a blob: %v", err)
	}
}

// TestPutIfLostAnswer: the server applies a conditional put but its answer
// is lost; the retry then fails its own condition. PutIf must see that the
// blob holds its data and report success, and still report real conflicts.
func TestPutIfLostAnswer(t *testing.T) {
	s, fp, _ := faultStore(t, 3)
	fp.lose.Store(1)
	e1, err := s.PutIf(t.Context(), "refs/a", []byte("v1"), "")
	if err != nil {
		t.Fatalf("create with a lost answer: %v", err)
	}
	fi, err := s.Stat(t.Context(), "refs/a")
	if err != nil || fi.ETag != e1 {
		t.Fatalf("stat etag %q, put-if etag %q, %v", fi.ETag, e1, err)
	}
	fp.lose.Store(1)
	if _, err := s.PutIf(t.Context(), "refs/a", []byte("v2"), e1); err != nil {
		t.Fatalf("replace with a lost answer: %v", err)
	}
	fp.lose.Store(1)
	if _, err := s.PutIf(t.Context(), "refs/a", []byte("other"), ""); !errors.Is(err, remote.ErrPrecondition) {
		t.Fatalf("conflicting create: %v, want ErrPrecondition", err)
	}
	got, err := remote.ReadAll(t.Context(), s, "refs/a")
	if err != nil || string(got) != "v2" {
		t.Fatalf("content %q, %v", got, err)
	}
}
