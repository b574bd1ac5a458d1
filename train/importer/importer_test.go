package importer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/train/traintest"
)

func newRepo(t *testing.T) (*workspace.Repo, *lineage.Recorder) {
	t.Helper()
	p := traintest.New(t, traintest.Options{Start: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Step: time.Second})
	return p.Repo, p.Rec
}

// etagServer serves body with a strong ETag derived from a version
// counter, answers If-None-Match with 304, and counts full downloads.
type etagServer struct {
	mu        sync.Mutex
	body      string
	version   int
	downloads int
	lastINM   string
}

func (s *etagServer) set(body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.version = body, s.version+1
}

func (s *etagServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	etag := fmt.Sprintf(`"v%d"`, s.version)
	s.lastINM = r.Header.Get("If-None-Match")
	if r.URL.Path != "/data.csv" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", etag)
	if s.lastINM == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.downloads++
	fmt.Fprint(w, s.body)
}

func TestImportHTTP(t *testing.T) {
	r, rc := newRepo(t)
	srv := &etagServer{}
	srv.set("a,b\n1,2\n")
	ts := httptest.NewServer(srv)
	defer ts.Close()
	url := ts.URL + "/data.csv"
	ctx := t.Context()

	res, err := Import(ctx, r, rc, Options{URL: url, Path: "raw/data.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if res.UpToDate || res.ETag != `"v1"` || res.Bytes != 8 || res.Source != url {
		t.Fatalf("first import %+v", res)
	}
	if b, _ := os.ReadFile(r.Abs("raw/data.csv")); string(b) != "a,b\n1,2\n" {
		t.Fatalf("content %q", b)
	}
	p, err := pointer.Read(r.Abs("raw/data.csv") + pointer.Ext)
	if err != nil {
		t.Fatal(err)
	}
	if p.Meta["source"] != url || p.Record != res.Version || p.Kind != "dataset" {
		t.Fatalf("pointer %+v", p)
	}
	ver, err := lineage.Load(ctx, r.Store, res.Version)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := lineage.Load(ctx, r.Store, res.Import)
	if err != nil {
		t.Fatal(err)
	}
	if ver.Type != lineage.TypeDataset || len(ver.Parents) != 1 || ver.Parents[0] != res.Import || ver.Data != p.OID {
		t.Fatalf("version %+v", ver)
	}
	if imp.Type != lineage.TypeImport || imp.Source != url || imp.ETag != `"v1"` || imp.FetchedAt.IsZero() || imp.Data != p.OID {
		t.Fatalf("import record %+v", imp)
	}
	if id, _ := rc.Refs.Get("imports/raw/data.csv"); id != res.Import {
		t.Fatal("imports/raw/data.csv does not name the import")
	}
	if entries, _ := filepath.Glob(filepath.Join(r.Abs("raw"), ".dv-import-*")); len(entries) != 0 {
		t.Fatalf("temp files left: %v", entries)
	}

	// A second import to the same path is refused; --update with the same
	// ETag downloads nothing and records nothing.
	if _, err := Import(ctx, r, rc, Options{URL: url, Path: "raw/data.csv"}); err == nil || !strings.Contains(err.Error(), "already tracked") {
		t.Fatalf("re-import: %v", err)
	}
	up, err := Import(ctx, r, rc, Options{Path: "raw/data.csv", Update: true})
	if err != nil {
		t.Fatal(err)
	}
	if !up.UpToDate || srv.lastINM != `"v1"` || srv.downloads != 1 || up.Version != res.Version {
		t.Fatalf("update of unchanged source: %+v (If-None-Match %q, %d downloads)", up, srv.lastINM, srv.downloads)
	}
	// A changed source is a new version whose previous is the first.
	srv.set("a,b\n1,2\n3,4\n")
	up, err = Import(ctx, r, rc, Options{Path: "raw/data.csv", Update: true})
	if err != nil {
		t.Fatal(err)
	}
	if up.UpToDate || up.ETag != `"v2"` || srv.downloads != 2 {
		t.Fatalf("update of changed source %+v", up)
	}
	ver2, err := lineage.Load(ctx, r.Store, up.Version)
	if err != nil {
		t.Fatal(err)
	}
	if ver2.Previous != res.Version {
		t.Fatalf("new version's previous = %s", ver2.Previous.Short())
	}
	if b, _ := os.ReadFile(r.Abs("raw/data.csv")); string(b) != "a,b\n1,2\n3,4\n" {
		t.Fatalf("updated content %q", b)
	}
	// A locally modified import is not overwritten.
	if err := os.WriteFile(r.Abs("raw/data.csv"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, r, rc, Options{Path: "raw/data.csv", Update: true}); err == nil || !strings.Contains(err.Error(), "modified since it was imported") {
		t.Fatalf("update over a local edit: %v", err)
	}
}

func TestImportErrors(t *testing.T) {
	r, rc := newRepo(t)
	srv := &etagServer{}
	srv.set("x")
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx := t.Context()
	secret := strings.Replace(ts.URL, "http://", "http://user:hunter2@", 1) + "/missing?X-Amz-Signature=s3cr3t&X-Amz-Credential=AKIA"
	_, err := Import(ctx, r, rc, Options{URL: secret, Path: "m"})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404: %v", err)
	}
	for _, leak := range []string{"hunter2", "s3cr3t", "AKIA", "user"} {
		if strings.Contains(err.Error(), leak) {
			t.Fatalf("error shows a credential: %v", err)
		}
	}
	if _, err := os.Stat(r.Abs("m")); err == nil {
		t.Fatal("a failed import left a file")
	}
	if entries, _ := filepath.Glob(filepath.Join(r.Root, ".dv-import-*")); len(entries) != 0 {
		t.Fatalf("temp files left: %v", entries)
	}
	if err := os.WriteFile(r.Abs("exists"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, r, rc, Options{URL: ts.URL + "/data.csv", Path: "exists"}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("untracked file at PATH: %v", err)
	}
	if _, err := Import(ctx, r, rc, Options{URL: ts.URL + "/data.csv", Path: "exists", Force: true}); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if _, err := Import(ctx, r, rc, Options{URL: ts.URL + "/data.csv", Path: "exists/inner"}); err == nil || !strings.Contains(err.Error(), "tracked as a whole") {
		t.Fatalf("a path inside tracked data: %v", err)
	}
	if _, err := Import(ctx, r, rc, Options{Path: "nothing", Update: true}); err == nil || !strings.Contains(err.Error(), "not tracked") {
		t.Fatalf("update of an unknown path: %v", err)
	}
	if _, err := Import(ctx, r, rc, Options{URL: "ftp://host/x", Path: "f"}); err == nil || !strings.Contains(err.Error(), "not ftp://") {
		t.Fatalf("ftp: %v", err)
	}
	if _, err := Import(ctx, r, rc, Options{URL: t.TempDir(), Path: "d"}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory source: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Import(cancelled, r, rc, Options{URL: ts.URL + "/data.csv", Path: "c"}); err == nil {
		t.Fatal("a cancelled import succeeded")
	}
}

func TestImportFile(t *testing.T) {
	r, rc := newRepo(t)
	src := filepath.Join(t.TempDir(), "src.csv")
	if err := os.WriteFile(src, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Import(t.Context(), r, rc, Options{URL: "file://" + src, Path: "in.csv"})
	if err != nil || res.Source != "file://"+src || res.ETag != "" {
		t.Fatalf("file:// import %+v %v", res, err)
	}
	// Unchanged content is up to date even without an ETag.
	up, err := Import(t.Context(), r, rc, Options{Path: "in.csv", Update: true})
	if err != nil || !up.UpToDate || up.Version != res.Version {
		t.Fatalf("unchanged file %+v %v", up, err)
	}
	if err := os.WriteFile(src, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up, err = Import(t.Context(), r, rc, Options{Path: "in.csv", Update: true})
	if err != nil || up.UpToDate || up.Version == res.Version {
		t.Fatalf("changed file %+v %v", up, err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pw@example.com/a.csv":                                  "https://example.com/a.csv",
		"https://example.com/a.csv?version=3":                                "https://example.com/a.csv?version=3",
		"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=A&X-Amz-Signature=abc": "https://b.s3.amazonaws.com/k",
		"https://acct.blob.core.windows.net/c/b?sv=2020&sig=abc":             "https://acct.blob.core.windows.net/c/b",
		"https://storage.googleapis.com/b/o?GoogleAccessId=x&Signature=y":    "https://storage.googleapis.com/b/o",
		"https://example.com/a?access_token=t":                               "https://example.com/a",
		"https://example.com/a#frag":                                         "https://example.com/a",
		"s3://bucket/key.csv":                                                "s3://bucket/key.csv",
		"/data/../data/x.csv":                                                "/data/x.csv",
		"http://[::1]:namedport":                                             "(unparsable URL)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
