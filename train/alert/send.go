package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sender posts events. The zero value is usable: see the defaults on
// each field.
type Sender struct {
	Client    *http.Client                               // default: one with a 10 s timeout that follows no redirects
	Tries     int                                        // attempts per target, default 4
	Backoff   time.Duration                              // first wait between attempts, doubled each time; default 500 ms
	MaxWait   time.Duration                              // cap on any one wait, Retry-After included; default 10 s
	Getenv    func(string) string                        // for env:NAME; default os.Getenv
	Sleep     func(context.Context, time.Duration) error // default: a timer that stops on ctx
	UserAgent string                                     // default "dv"
}

// DeliveryError is a target that did not accept an event. It names the
// target by where it was configured and the event, never the URL.
type DeliveryError struct {
	Target string // alerts[0], --notify
	Event  string // "stale alert for crop@production"
	Tries  int
	Reason string // "HTTP 500", "connection refused", ...
}

func (e *DeliveryError) Error() string {
	tries := ""
	if e.Tries > 1 {
		tries = fmt.Sprintf(" after %d tries", e.Tries)
	}
	return fmt.Sprintf("%s: webhook %s not delivered%s: %s", e.Event, e.Target, tries, e.Reason)
}

// Send posts ev to every target that wants its kind, with the default
// Sender. See Sender.Send.
func Send(ctx context.Context, targets []Target, ev Event) error {
	return (&Sender{}).Send(ctx, targets, ev)
}

// Send posts ev to every target that wants ev.Event, one after another.
// It sets Schema, and Text (to ev.Summary()) and Time (to now) when they
// are empty (Text with &, < and > escaped as Slack asks). A 2xx answer delivers; 429 and 5xx answers and connection
// failures are retried, up to Tries attempts, waiting Backoff, doubled
// each time, or the answer's Retry-After when it is longer, never more
// than MaxWait; other answers fail at once. The error joins one
// *DeliveryError per target that failed.
func (s *Sender) Send(ctx context.Context, targets []Target, ev Event) error {
	ev.Schema = Schema
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	if ev.Text == "" {
		ev.Text = slackEscape(ev.Summary())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return fmt.Errorf("%s: %w", ev.name(), err)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	var errs []error
	for _, t := range targets {
		if !t.Wants(ev.Event) {
			continue
		}
		if err := s.post(ctx, t, body); err != nil {
			var de *DeliveryError
			if errors.As(err, &de) {
				de.Event = ev.name()
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// post delivers body to one target.
func (s *Sender) post(ctx context.Context, t Target, body []byte) error {
	u, err := t.resolve(s.Getenv)
	if err != nil {
		return &DeliveryError{Target: t.Name, Tries: 0, Reason: err.Error()}
	}
	tries := s.Tries
	if tries <= 0 {
		tries = 4
	}
	wait := s.Backoff
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	maxWait := s.MaxWait
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	var reason string
	for try := 1; ; try++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		retry, after, why := s.attempt(ctx, u, body)
		if why == "" {
			return nil
		}
		reason = why
		if !retry || try >= tries {
			return &DeliveryError{Target: t.Name, Tries: try, Reason: reason}
		}
		d := max(wait, after)
		d = min(d, maxWait)
		if err := s.sleep(ctx, d); err != nil {
			return err
		}
		wait *= 2
	}
}

// attempt makes one POST. It returns "" when delivered, or why not,
// whether to retry, and the answer's Retry-After.
func (s *Sender) attempt(ctx context.Context, u string, body []byte) (retry bool, after time.Duration, why string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return false, 0, "cannot make the request (the URL is not shown)"
	}
	req.Header.Set("Content-Type", "application/json")
	ua := s.UserAgent
	if ua == "" {
		ua = "dv"
	}
	req.Header.Set("User-Agent", ua)
	resp, err := s.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, 0, "interrupted"
		}
		why, retry := describe(err)
		return retry, 0, why
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, 0, ""
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, retryAfter(resp.Header.Get("Retry-After"), time.Now()), fmt.Sprintf("HTTP %d", resp.StatusCode)
	default:
		return false, 0, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
}

// retryAfter reads a Retry-After value (seconds or an HTTP date).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// describe says why a request failed without quoting the error, whose
// text holds the URL (a *url.Error) or its host.
func describe(err error) (why string, retry bool) {
	var ne net.Error
	var dnsErr *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the webhook's server up?)", true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection dropped", true
	case errors.As(err, &dnsErr):
		return "host not found", false
	case errors.As(err, &tlsErr):
		return "TLS certificate not trusted", false
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out", true
	case errors.Is(err, errRedirect):
		return "the webhook answered with a redirect (not followed)", false
	}
	return "unreachable", true
}

var errRedirect = errors.New("redirect")

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return defaultClient
}

// defaultClient follows no redirects: a redirect could carry the event,
// or the secret path, somewhere else.
var defaultClient = &http.Client{
	Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return errRedirect
	},
}

func (s *Sender) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// slackEscape escapes the three characters Slack's message text reserves
// for links and mentions (&, <, >), as Slack's formatting guide asks.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
