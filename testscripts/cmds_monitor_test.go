package testscripts

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// hookSecret is in the path of every webhook URL the webhook command
// makes: the part a script checks is nowhere dv writes.
const hookSecret = "dvHookSecretToken7f3a"

// webhook VAR FILE [STATUS...] starts an HTTP server on 127.0.0.1 for the
// rest of the script, sets VAR to its URL (whose path holds
// $HOOK_SECRET) and appends each request's body, one line each, to FILE.
// It answers with the STATUS codes in turn, the last one forever (default
// 200); a request to another path gets 404.
func cmdWebhook(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: webhook VAR FILE [STATUS...]")
	}
	statuses := []int{http.StatusOK}
	if len(args) > 2 {
		statuses = statuses[:0]
		for _, a := range args[2:] {
			n, err := strconv.Atoi(a)
			if err != nil || n < 100 || n > 599 {
				ts.Fatalf("webhook: bad status %q", a)
			}
			statuses = append(statuses, n)
		}
	}
	file := ts.MkAbs(args[1])
	path := "/hooks/" + hookSecret + "/" + args[0]
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if r.URL.Path != path || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		st := statuses[0]
		if len(statuses) > 1 {
			statuses = statuses[1:]
		}
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(bytes.ReplaceAll(body, []byte("\n"), nil), '\n'))
			f.Close()
		}
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(st)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("webhook: %v", err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	ts.Defer(func() { srv.Close() })
	ts.Setenv(args[0], "http://"+l.Addr().String()+path)
	ts.Setenv("HOOK_SECRET", hookSecret)
}
