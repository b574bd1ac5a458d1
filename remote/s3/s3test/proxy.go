package s3test

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a counting, fault-injecting HTTP proxy on loopback in front of
// an S3 endpoint. It keeps the Host header the client signed, and copies
// bodies through 256 KiB buffers (fast enough for the benchmark).
type Proxy struct {
	URL      string
	srv      *httptest.Server
	total    atomic.Int64
	mu       sync.Mutex
	byMethod map[string]int64

	// Fail answers 503 to this many requests instead of forwarding them.
	Fail atomic.Int64
	// FailIf, when set, answers 503 to every request it matches.
	FailIf atomic.Pointer[func(*http.Request) bool]
	// OnRequest, when set, sees each request before it is forwarded.
	OnRequest atomic.Pointer[func(*http.Request)]
	// Truncate cuts this many ranged pack GETs off half way through the
	// body, then drops the connection.
	Truncate atomic.Int64
	// Drop closes the connection of this many requests without an answer
	// (a connection reset).
	Drop atomic.Int64
}

// NewProxy starts a proxy in front of target; Close stops it.
func NewProxy(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		Proxy:               nil,
		ReadBufferSize:      256 << 10,
		WriteBufferSize:     256 << 10,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	rp.BufferPool = bufPool{}
	rp.ErrorLog = log.New(io.Discard, "", 0) // a killed server is expected
	p := &Proxy{byMethod: map[string]int64{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(rp, w, r) }))
	p.URL = p.srv.URL
	return p, nil
}

func (p *Proxy) serve(rp *httputil.ReverseProxy, w http.ResponseWriter, r *http.Request) {
	p.total.Add(1)
	p.mu.Lock()
	p.byMethod[r.Method]++
	p.mu.Unlock()
	if f := p.OnRequest.Load(); f != nil {
		(*f)(r)
	}
	if p.Drop.Add(-1) >= 0 {
		hijackClose(w)
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" && strings.Contains(r.URL.Path, "/packs/") && p.Truncate.Add(-1) >= 0 {
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		hijackClose(w)
		return
	}
	fail := p.Fail.Add(-1) >= 0
	if f := p.FailIf.Load(); f != nil && (*f)(r) {
		fail = true
	}
	if !fail {
		rp.ServeHTTP(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<Error><Code>ServiceUnavailable</Code><Message>injected by the test proxy</Message></Error>`)
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// Reset zeroes the counts and returns those before: all requests, and
// requests by method.
func (p *Proxy) Reset() (int64, map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.byMethod
	p.byMethod = map[string]int64{}
	return p.total.Swap(0), m
}

// hijackClose drops the client's connection at once.
func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

// bufPool gives the proxy 256 KiB copy buffers.
type bufPool struct{}

var proxyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func (bufPool) Get() []byte  { return *proxyBufs.Get().(*[]byte) }
func (bufPool) Put(b []byte) { proxyBufs.Put(&b) }

// Counter is an http.RoundTripper that counts the requests it carries
// (retries included): NewClient(ctx, ep, c.Wrap).
type Counter struct {
	base http.RoundTripper
	n    atomic.Int64
}

// Wrap makes c carry requests through base.
func (c *Counter) Wrap(base http.RoundTripper) http.RoundTripper {
	c.base = base
	return c
}

// RoundTrip counts and forwards r.
func (c *Counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// Swap returns the count and sets it to v.
func (c *Counter) Swap(v int64) int64 { return c.n.Swap(v) }

// Load returns the count.
func (c *Counter) Load() int64 { return c.n.Load() }
