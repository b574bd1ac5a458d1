package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects/workspace"
)

// hook is a webhook that answers with the given statuses in turn (the
// last one forever) and keeps the bodies it got.
type hook struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	bodies   [][]byte
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, b)
	st := h.statuses[0]
	if len(h.statuses) > 1 {
		h.statuses = h.statuses[1:]
	}
	for k, v := range h.header {
		w.Header()[k] = v
	}
	w.WriteHeader(st)
}

// secretPath is the part of the URL that must never show.
const secretPath = "/services/T000/B000/xoxSecretWebhookToken42"

func newHook(t *testing.T, h *hook) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + secretPath
}

// recordSleep is a Sender.Sleep that only remembers.
func recordSleep(waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return nil
	}
}

func event() Event {
	return Event{Event: KindStale, Model: "crop", Alias: "production", Version: "v3", Verdict: "stale",
		Metric: "rmse", Value: Float(2.5), Threshold: Float(2), Record: strings.Repeat("ab", 32),
		Time: time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)}
}

func noSecret(t *testing.T, err error, url string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{url, secretPath, "xoxSecretWebhookToken42", "127.0.0.1"} {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error shows the webhook (%q): %v", s, err)
		}
	}
}

func TestSendRetriesTooManyRequests(t *testing.T) {
	h := &hook{statuses: []int{429, 200}, header: http.Header{"Retry-After": {"3"}}}
	u := newHook(t, h)
	var waits []time.Duration
	s := &Sender{Sleep: recordSleep(&waits), Backoff: time.Second, MaxWait: 5 * time.Second}
	if err := s.Send(t.Context(), []Target{{Name: "alerts[0]", URL: u}}, event()); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 2 {
		t.Fatalf("%d requests, want 2", len(h.bodies))
	}
	if len(waits) != 1 || waits[0] != 3*time.Second {
		t.Errorf("waits %v, want [3s] (Retry-After over the backoff)", waits)
	}
	var got map[string]any
	if err := json.Unmarshal(h.bodies[1], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"schema": "dv.alert/v1", "event": "stale", "model": "crop", "alias": "production",
		"version": "v3", "metric": "rmse", "value": 2.5, "threshold": 2.0, "verdict": "stale",
		"record": strings.Repeat("ab", 32), "time": "2026-12-06T01:00:00Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	text, _ := got["text"].(string)
	if !strings.Contains(text, "crop@production (v3) stale") || !strings.Contains(text, "rmse = 2.5 (threshold 2)") {
		t.Errorf("text = %q", text)
	}
}

func TestSendRetryAfterCapped(t *testing.T) {
	h := &hook{statuses: []int{503, 204}, header: http.Header{"Retry-After": {"3600"}}}
	u := newHook(t, h)
	var waits []time.Duration
	s := &Sender{Sleep: recordSleep(&waits), MaxWait: 2 * time.Second}
	if err := s.Send(t.Context(), []Target{{Name: "--notify", URL: u}}, event()); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] != 2*time.Second {
		t.Errorf("waits %v, want [2s]", waits)
	}
}

func TestSendGivesUp(t *testing.T) {
	h := &hook{statuses: []int{500}}
	u := newHook(t, h)
	var waits []time.Duration
	s := &Sender{Sleep: recordSleep(&waits), Tries: 3, Backoff: 100 * time.Millisecond}
	err := s.Send(t.Context(), []Target{{Name: "alerts[1]", URL: u}}, event())
	var de *DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *DeliveryError", err)
	}
	if len(h.bodies) != 3 || de.Tries != 3 {
		t.Errorf("%d requests, %d tries; want 3", len(h.bodies), de.Tries)
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; len(waits) != 2 || waits[0] != want[0] || waits[1] != want[1] {
		t.Errorf("waits %v, want %v", waits, want)
	}
	if want := "stale alert for crop@production: webhook alerts[1] not delivered after 3 tries: HTTP 500"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	noSecret(t, err, u)
}

func TestSendNoRetryOnClientError(t *testing.T) {
	h := &hook{statuses: []int{404}}
	u := newHook(t, h)
	err := (&Sender{Sleep: recordSleep(new([]time.Duration))}).Send(t.Context(), []Target{{Name: "alerts[0]", URL: u}}, event())
	if err == nil || len(h.bodies) != 1 || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("err %v after %d requests; want HTTP 404 after 1", err, len(h.bodies))
	}
	noSecret(t, err, u)
}

func TestSendUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + secretPath
	l.Close() // nothing listens there now
	err = (&Sender{Tries: 2, Sleep: recordSleep(new([]time.Duration))}).Send(t.Context(), []Target{{Name: "--notify", URL: u}}, event())
	if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line saying connection refused", err)
	}
	if !strings.HasPrefix(err.Error(), "stale alert for crop@production: webhook --notify") {
		t.Errorf("err = %v, want it to name the alert and the target", err)
	}
	noSecret(t, err, u)
}

func TestSendEnvURL(t *testing.T) {
	h := &hook{statuses: []int{200}}
	u := newHook(t, h)
	env := map[string]string{"HOOK": u}
	s := &Sender{Getenv: func(k string) string { return env[k] }}
	targets := []Target{{Name: "alerts[0]", URL: "env:HOOK", On: []string{KindStale}}}
	if err := s.Send(t.Context(), targets, event()); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 1 {
		t.Fatalf("%d requests, want 1", len(h.bodies))
	}
	// Not wanted: nothing is sent.
	ev := event()
	ev.Event = KindDrift
	if err := s.Send(t.Context(), targets, ev); err != nil || len(h.bodies) != 1 {
		t.Fatalf("drift event went to a stale-only target (err %v)", err)
	}
	delete(env, "HOOK")
	err := s.Send(t.Context(), targets, event())
	if err == nil || err.Error() != "stale alert for crop@production: webhook alerts[0] not delivered: environment variable HOOK is not set" {
		t.Fatalf("err = %v", err)
	}
	env["HOOK"] = "ftp://example.com" + secretPath
	err = s.Send(t.Context(), targets, event())
	if err == nil || !strings.Contains(err.Error(), "does not hold an http(s) URL") {
		t.Fatalf("err = %v", err)
	}
	noSecret(t, err, env["HOOK"])
}

func TestFromConfig(t *testing.T) {
	cfgOf := func(y string) *workspace.Config {
		c, err := workspace.DecodeConfig([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ts, err := FromConfig(cfgOf("alerts:\n  - url: env:SLACK\n    on: [drift, stale]\n  - url: https://hooks.example.com/x\n"), []string{"http://127.0.0.1:1/y"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].Name != "alerts[0]" || !ts[0].Wants(KindDrift) || ts[0].Wants(KindPromotion) ||
		ts[1].Name != "alerts[1]" || !ts[1].Wants(KindMetrics) || ts[2].Name != "--notify" || !ts[2].Wants(KindStale) {
		t.Fatalf("targets %+v", ts)
	}
	ts, err = FromConfig(cfgOf("alerts:\n  url: env:SLACK\n  on: [promotion]\n"), nil)
	if err != nil || len(ts) != 1 || ts[0].Name != "alerts" || !ts[0].Wants(KindPromotion) {
		t.Fatalf("one mapping: %+v, %v", ts, err)
	}
	if ts, err := FromConfig(cfgOf("version: 1\n"), nil); err != nil || len(ts) != 0 {
		t.Fatalf("no section: %+v, %v", ts, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"alerts:\n  - url: env:X\n    on: [drfit]\n", `dv.yaml:2: alerts[0].on: unknown event "drfit"`},
		{"alerts:\n  - url: env:X\n  - url: ftp://h/xoxSecretWebhookToken42\n", "dv.yaml:3: alerts[1].url: the webhook URL is not an http(s) URL"},
		{"alerts:\n  - url: env:X\n    when: [drift]\n", "dv.yaml:3: alerts[0].when: unknown key"},
		{"alerts:\n  - on: [drift]\n", "dv.yaml:2: alerts[0].url: no webhook URL"},
	} {
		_, err := FromConfig(cfgOf(tc.yaml), nil)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q...", tc.yaml, err, tc.want)
		}
		noSecret(t, err, "")
	}
	_, err = FromConfig(nil, []string{"not a url xoxSecretWebhookToken42"})
	if err == nil || !strings.HasPrefix(err.Error(), "--notify: ") {
		t.Errorf("bad --notify: %v", err)
	}
	noSecret(t, err, "")
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "7": 7 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
