package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The page is checked in a real browser: Debian's chromium, headless,
// driven over the DevTools protocol on a pipe (--remote-debugging-pipe: it
// reads commands on fd 3 and writes replies and events on fd 4, each a
// JSON message ended by a NUL byte). The browser loads the file, and the
// test collects every console message, uncaught exception and browser log
// entry (a failed load, a blocked request), queries the DOM, and takes a
// screenshot.

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("DV_REQUIRE_TOOLS") != "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium) and DV_REQUIRE_TOOLS is set")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); set DV_REQUIRE_TOOLS=1 to fail instead")
	return ""
}

type cdp struct {
	t       *testing.T
	w       *os.File
	mu      sync.Mutex
	nextID  int
	replies map[int]chan json.RawMessage
	events  chan cdpEvent
	errs    chan error
}

type cdpEvent struct {
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	SessionID string          `json:"sessionId"`
}

type browserResult struct {
	problems   []string // console errors, exceptions, log entries of level error
	dom        map[string]any
	screenshot []byte
}

// openInBrowser loads the file at path in headless chromium and returns
// what the page did, the answers to the DOM queries (a JS expression
// returning an object), and a full-page screenshot.
func openInBrowser(t *testing.T, path, query string) *browserResult {
	t.Helper()
	bin := chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmdR, cmdW, err := os.Pipe() // we write commands, chromium reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	resR, resW, err := os.Pipe() // chromium writes fd 4, we read
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, resW}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	resW.Close()
	defer func() {
		cmdW.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		resR.Close()
	}()
	c := &cdp{t: t, w: cmdW, replies: map[int]chan json.RawMessage{}, events: make(chan cdpEvent, 1024), errs: make(chan error, 1)}
	go c.read(resR)

	var target struct{ TargetID string }
	c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	s := attached.SessionID
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		c.call(ctx, s, m, nil, nil)
	}
	c.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
	abs, _ := filepath.Abs(path)
	var nav struct{ ErrorText string }
	c.call(ctx, s, "Page.navigate", map[string]any{"url": "file://" + abs}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate %s: %s", abs, nav.ErrorText)
	}
	res := &browserResult{}
	loaded := false
	deadline := time.After(30 * time.Second)
	settle := (<-chan time.Time)(nil)
	for done := false; !done; {
		select {
		case ev := <-c.events:
			if p := problem(ev); p != "" {
				res.problems = append(res.problems, p)
			}
			if ev.Method == "Page.loadEventFired" && !loaded {
				loaded = true
				settle = time.After(300 * time.Millisecond) // late console messages
			}
		case <-settle:
			done = true
		case err := <-c.errs:
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		case <-deadline:
			t.Fatalf("the page did not load in 30 s\n%s", stderr.String())
		}
	}
	var ev struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails json.RawMessage
	}
	c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": "JSON.stringify(" + query + ")", "returnByValue": true}, &ev)
	if ev.ExceptionDetails != nil {
		t.Fatalf("DOM query failed: %s", ev.ExceptionDetails)
	}
	var js string
	if err := json.Unmarshal(ev.Result.Value, &js); err != nil || json.Unmarshal([]byte(js), &res.dom) != nil {
		t.Fatalf("DOM query returned %s", ev.Result.Value)
	}
	var shot struct{ Data string }
	c.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot)
	res.screenshot, err = base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	// Anything reported while querying counts too.
	for {
		select {
		case ev := <-c.events:
			if p := problem(ev); p != "" {
				res.problems = append(res.problems, p)
			}
			continue
		default:
		}
		break
	}
	c.call(ctx, "", "Browser.close", nil, nil)
	return res
}

// problem describes an event that means the page is broken, or "".
func problem(ev cdpEvent) string {
	switch ev.Method {
	case "Runtime.exceptionThrown":
		return "exception: " + string(ev.Params)
	case "Runtime.consoleAPICalled":
		var p struct{ Type string }
		json.Unmarshal(ev.Params, &p)
		if p.Type == "error" || p.Type == "assert" || p.Type == "warning" {
			return "console." + p.Type + ": " + string(ev.Params)
		}
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Level, Text, URL string }
		}
		json.Unmarshal(ev.Params, &p)
		if p.Entry.Level == "error" || p.Entry.Level == "warning" {
			return fmt.Sprintf("log %s: %s %s", p.Entry.Level, p.Entry.Text, p.Entry.URL)
		}
	}
	return ""
}

func (c *cdp) read(r *os.File) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			select {
			case c.errs <- fmt.Errorf("pipe closed: %v", err):
			default:
			}
			return
		}
		msg = msg[:len(msg)-1]
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
			cdpEvent
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		if m.ID == 0 {
			c.events <- m.cdpEvent
			continue
		}
		c.mu.Lock()
		ch := c.replies[m.ID]
		c.mu.Unlock()
		if m.Error != nil {
			ch <- append([]byte("E"), m.Error...)
		} else {
			ch <- m.Result
		}
	}
}

// call sends one command and waits for its reply, decoded into out.
func (c *cdp) call(ctx context.Context, session, method string, params, out any) {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan json.RawMessage, 1)
	c.replies[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, _ := json.Marshal(msg)
	if _, err := c.w.Write(append(b, 0)); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	select {
	case res := <-ch:
		if bytes.HasPrefix(res, []byte("E")) {
			if method == "Browser.close" {
				return
			}
			c.t.Fatalf("%s: %s", method, res[1:])
		}
		if out != nil {
			if err := json.Unmarshal(res, out); err != nil {
				c.t.Fatalf("%s: %v", method, err)
			}
		}
	case err := <-c.errs:
		if method == "Browser.close" {
			return
		}
		c.t.Fatalf("%s: %v", method, err)
	case <-ctx.Done():
		c.t.Fatalf("%s: no reply: %v", method, ctx.Err())
	}
}

const domQuery = `{
  nodes: document.querySelectorAll('svg#lineage g.node').length,
  holder: document.querySelectorAll('svg#lineage g.node.holder').length,
  edges: document.querySelectorAll('svg#lineage path.edge').length,
  charts: document.querySelectorAll('svg.chart').length,
  points: document.querySelectorAll('svg#chart-rmse circle').length,
  threshold: document.querySelectorAll('svg#chart-rmse line.threshold').length,
  events: document.querySelectorAll('svg#timeline g.event').length,
  drift: document.querySelectorAll('table#drift tbody tr').length,
  prod: document.querySelectorAll('svg[id^="prod-"]').length,
  scripts: document.querySelectorAll('script, img, iframe, object, embed').length,
  title: document.title,
  modelText: document.querySelector('h1').textContent,
  graphWidth: document.querySelector('svg#lineage').getBoundingClientRect().width,
  height: document.documentElement.scrollHeight
}`

func TestBrowserRendersReport(t *testing.T) {
	chromiumPath(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := Render(&b, fixture(hostile)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b.Bytes(), 0o644)
	res := openInBrowser(t, path, domQuery)
	if len(res.problems) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(res.problems, "\n"))
	}
	want := map[string]float64{"nodes": 7, "holder": 1, "edges": 7, "charts": 4, "threshold": 1, "events": 4, "drift": 3, "prod": 2, "scripts": 0}
	for k, v := range want {
		if got, _ := res.dom[k].(float64); got != v {
			t.Errorf("DOM %s = %v, want %v", k, res.dom[k], v)
		}
	}
	// rmse chart: three versions' points plus the holder's ring.
	if got, _ := res.dom["points"].(float64); got != 4 {
		t.Errorf("rmse chart has %v circles, want 4", res.dom["points"])
	}
	if got, _ := res.dom["modelText"].(string); !strings.Contains(got, "<script>alert(1)</script>") {
		t.Errorf("the hostile model name should show as text, got %q", got)
	}
	if w, _ := res.dom["graphWidth"].(float64); w < 400 {
		t.Errorf("lineage graph drawn %v px wide", w)
	}
	img, err := png.Decode(bytes.NewReader(res.screenshot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if bnd := img.Bounds(); bnd.Dx() != 1280 || bnd.Dy() < 900 {
		t.Errorf("screenshot is %v", bnd)
	}
	if out := os.Getenv("DV_REPORT_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, res.screenshot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserSeesErrors shows the harness can fail: a page that throws
// and logs an error is reported.
func TestBrowserSeesErrors(t *testing.T) {
	chromiumPath(t)
	path := filepath.Join(t.TempDir(), "bad.html")
	os.WriteFile(path, []byte(`<!DOCTYPE html><html><head><title>x</title></head><body><p>x</p>
<script>console.error("broken on purpose"); throw new Error("thrown on purpose")</script></body></html>`), 0o644)
	res := openInBrowser(t, path, `{p: document.querySelectorAll('p').length}`)
	all := strings.Join(res.problems, "\n")
	if !strings.Contains(all, "broken on purpose") || !strings.Contains(all, "thrown on purpose") {
		t.Errorf("the harness missed the page's errors; it saw:\n%s", all)
	}
	if res.dom["p"] != float64(1) {
		t.Errorf("DOM query: %v", res.dom)
	}
}
