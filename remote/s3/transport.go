package s3

import (
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// tune sizes the SDK's transport for parallel transfers (it keeps only 10
// idle connections per host) and bounds the wait for an answer.
func tune(tr *http.Transport) {
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	// Time from the end of the request body to the answer's headers; a hung
	// server then fails the try, which is retried.
	tr.ResponseHeaderTimeout = 2 * time.Minute
}

// Counter is an http.RoundTripper that counts the requests it carries, by
// method, retries included. Put it in Options.Transport; New gives a
// Counter without a Base the Store's default transport (elsewhere nil means
// http.DefaultTransport). It is safe for concurrent use.
type Counter struct {
	// Base carries the requests. Set it before the first request.
	Base http.RoundTripper

	once     sync.Once
	mu       sync.Mutex
	byMethod map[string]int64
	total    atomic.Int64
}

// NewCounter returns a Counter sending through base (see Counter.Base).
func NewCounter(base http.RoundTripper) *Counter {
	return &Counter{Base: base}
}

// defaultBase sets Base to tr if it is nil and no request went yet.
func (c *Counter) defaultBase(tr http.RoundTripper) {
	c.once.Do(func() {
		if c.Base == nil {
			c.Base = tr
		}
	})
}

func (c *Counter) base() http.RoundTripper {
	c.defaultBase(http.DefaultTransport)
	return c.Base
}

// RoundTrip counts r and sends it.
func (c *Counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.byMethod == nil {
		c.byMethod = make(map[string]int64)
	}
	c.byMethod[r.Method]++
	c.mu.Unlock()
	c.total.Add(1)
	return c.base().RoundTrip(r)
}

// Requests returns a copy of the counts by HTTP method.
func (c *Counter) Requests() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byMethod)
}

// Total returns the number of requests sent.
func (c *Counter) Total() int64 { return c.total.Load() }

// Reset sets the counts to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.byMethod)
	c.total.Store(0)
}

// CloseIdleConnections closes the base transport's idle connections.
func (c *Counter) CloseIdleConnections() {
	if ci, ok := c.base().(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
