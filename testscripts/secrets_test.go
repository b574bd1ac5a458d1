package testscripts

// Secrets: every dv command runs with AWS credentials (key id, secret,
// session token) and other tokens in its environment, with secrets in URLs
// (a remote URL with user:secret@, which dv must refuse; a pre-signed
// import URL with a password and a signature; a git origin with a
// password), with and without --json, succeeding and failing. No output,
// no file dv writes (records and run logs in the store, refs, dv.yaml,
// pointer files, the stat cache, the remote's files, git hooks) and no
// committed file may hold any secret, and a run record's env facet holds
// no environment variable's value. Against versitygw (DV_S3_ENDPOINT), the
// remote commands and an S3 import run too, with the right credentials and
// with wrong ones.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/remote/s3/s3test"
)

// The distinctive values planted everywhere a secret can come from.
const (
	secKeyID      = "AKIADVLEAKCHECK7Q2Z"
	secAccessKey  = "dvLeakCheckSecretKey+9f3b/7c1e"
	secToken      = "dvLeakCheckSessionToken4e8a2d6f"
	secURLPass    = "dvLeakCheckUrlPassword5c1f9a"
	secURLSlash   = "dvLeakCheck/SlashPass" // a password holding '/'
	secSignature  = "dvleakchecksignature0c4f7e2b9a"
	secGitPass    = "dvLeakCheckGitPassword77aa"
	secCanary     = "dvLeakCheckCanaryValue31d2"
	secGitHubTok  = "ghp_dvLeakCheckGitHubToken0000"
	secHFTok      = "hf_dvLeakCheckHuggingFace1111"
	secWrongS3Key = "AKIADVWRONGLEAKCHECK"
	secWrongS3    = "dvLeakCheckWrongSecret-0123"
)

var secPlanted = []string{secKeyID, secAccessKey, secToken, secURLPass, secURLSlash, secSignature, secGitPass,
	secCanary, secGitHubTok, secHFTok, secWrongS3Key, secWrongS3,
	"LeakCheckSecretKey", "SlashPass", "LeakCheckSessionToken", "leakchecksignature"} // fragments too

// secEnv is the environment every command of the test gets on top of the
// sandbox's.
var secEnv = []string{
	"AWS_ACCESS_KEY_ID=" + secKeyID, "AWS_SECRET_ACCESS_KEY=" + secAccessKey, "AWS_SESSION_TOKEN=" + secToken,
	"DV_LEAK_CANARY=" + secCanary, "GITHUB_TOKEN=" + secGitHubTok, "HF_TOKEN=" + secHFTok,
	"AWS_ENDPOINT_URL=", "AWS_ENDPOINT_URL_S3=", "AWS_PROFILE=", "AWS_REGION=us-east-1",
}

// secRun runs dv commands in a sandbox and checks every output.
type secRun struct {
	*sandbox
	env     []string
	secrets []string
	runs    int
}

// dv runs dv ARGS in dir, with --json and without, and fails if an output
// holds a secret or shows a panic, or if the plain run's exit code is not
// code (any code when code < 0). It returns the plain run.
func (r *secRun) dv(code int, dir string, args ...string) result {
	r.t.Helper()
	var plain result
	for _, json := range []bool{false, true} {
		full := args
		if json {
			full = append([]string{"--json"}, args...)
		}
		res := r.runEnv(dir, r.env, dvBinary(r.t), full...)
		r.runs++
		r.check(res)
		if !json {
			plain = res
			if code >= 0 && res.code != code {
				r.t.Errorf("want exit %d: %v", code, res)
			}
		}
	}
	return plain
}

// once runs dv ARGS once, as given.
func (r *secRun) once(code int, dir string, args ...string) result {
	r.t.Helper()
	res := r.runEnv(dir, r.env, dvBinary(r.t), args...)
	r.runs++
	r.check(res)
	if code >= 0 && res.code != code {
		r.t.Errorf("want exit %d: %v", code, res)
	}
	return res
}

func (r *secRun) check(res result) {
	r.t.Helper()
	for _, sec := range r.secrets {
		if strings.Contains(res.stdout, sec) || strings.Contains(res.stderr, sec) {
			r.t.Errorf("output shows the secret %q: %v", sec, res)
		}
	}
	if strings.Contains(res.stderr, "panic:") || strings.Contains(res.stderr, "goroutine ") {
		r.t.Errorf("dv panicked: %v", res)
	}
}

// secServer serves an import source over HTTP, and a page that sends the
// client to a pre-signed URL that does not exist.
func secServer(t *testing.T) (*httptest.Server, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/fields.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = io.WriteString(w, "field,yield\na,1.5\nb,2.5\n")
	})
	mux.HandleFunc("/hooks/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	var srv *httptest.Server
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://dvuser:"+secURLPass+"@"+srv.Listener.Addr().String()+
			"/gone.csv?X-Amz-Signature="+secSignature, http.StatusFound)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tlsSrv := httptest.NewUnstartedServer(mux) // its certificate is not trusted: a failing import
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	return srv, tlsSrv
}

// signedURL is a pre-signed-looking URL on host with a password and a
// signature.
func signedURL(scheme, host, path string) string {
	q := url.Values{}
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Credential", secKeyID+"/20250101/us-east-1/s3/aws4_request")
	q.Set("X-Amz-Security-Token", secToken)
	q.Set("X-Amz-Signature", secSignature)
	return scheme + "://dvuser:" + secURLPass + "@" + host + path + "?" + q.Encode()
}

// TestSecretsNeverLeak runs every dv command as described above.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	srv, tlsSrv := secServer(t)
	s := newSandbox(t)
	r := &secRun{sandbox: s, env: secEnv, secrets: secPlanted}
	host := srv.Listener.Addr().String()

	if err := os.MkdirAll(s.path("proj/data/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, c := range map[string]string{"data/a.csv": "x,y\n1,2\n", "data/sub/b.csv": "x,y\n3,4\n", "labels.csv": "x,ok\n1,1\n"} {
		if err := os.WriteFile(s.path("proj/"+p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.run("proj", "git", "init", "-q")
	s.run("proj", "git", "remote", "add", "origin", "https://dvgit:"+secGitPass+"@example.com/acme/crops.git")
	s.run("proj", "git", "remote", "add", "mirror", "https://dvgit:"+secURLSlash+"@example.com/acme/crops.git")

	// init, remotes: a URL with credentials is refused, in every form.
	if err := os.MkdirAll(s.path("shelf"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.once(0, "proj", "init", "-q")
	r.dv(-1, "proj", "init")
	r.dv(0, "proj", "remote", "add", "shelf", "../shelf", "--default")
	r.dv(0, "proj", "remote", "add", "spare", "file://"+s.path("spare"))
	for _, bad := range [][]string{
		{"s3://" + secKeyID + ":" + secAccessKey + "@bucket/p"},
		{"s3://" + secKeyID + ":" + secURLSlash + "@bucket/p"},
		{"file://dvuser:" + secURLPass + "@host/shelf"},
		{"https://dvuser:" + secURLPass + "@example.com/shelf"},
		{"s3://bucket/p", "--endpoint", "http://dvuser:" + secURLPass + "@127.0.0.1:9"},
		{"s3://bucket/p", "--endpoint", "http://" + secKeyID + ":" + secURLSlash + "@127.0.0.1:9"},
	} {
		res := r.dv(2, "proj", append([]string{"remote", "add", "leak"}, bad...)...)
		if !strings.Contains(res.stderr, "credentials do not belong in dv.yaml") && !strings.Contains(res.stderr, "want a folder") {
			t.Errorf("a URL with credentials: %v", res)
		}
	}
	r.dv(0, "proj", "remote", "list")
	r.once(0, "proj", "remote", "remove", "spare")

	// Data, status, diff, ls, push, fetch, pull, checkout, fsck, gc.
	r.once(0, "proj", "add", "data", "--name", "crop", "--meta", "license=internal", "--desc", "field survey")
	r.dv(0, "proj", "add", "--labels-for", "crop", "labels.csv")
	r.dv(0, "proj", "status")
	r.dv(0, "proj", "status", "-r", "shelf")
	r.dv(0, "proj", "diff")
	r.dv(0, "proj", "ls")
	r.dv(0, "proj", "ls", "data")
	r.dv(0, "proj", "push")
	r.dv(0, "proj", "push", "-v")
	r.dv(0, "proj", "status", "-r", "shelf", "--exit-code")
	s.run("proj", "git", "add", "-A")
	s.run("proj", "git", "commit", "-q", "-m", "data")
	r.dv(0, "proj", "fetch")
	r.dv(0, "proj", "pull", "-v")
	r.dv(0, "proj", "checkout")
	r.dv(0, "proj", "checkout", "data")
	r.dv(0, "proj", "fsck")
	r.dv(0, "proj", "fsck", "--repair")
	r.dv(0, "proj", "fsck", "-r", "shelf")
	r.dv(0, "proj", "gc", "--workspace", "--dry-run")
	r.dv(0, "proj", "gc", "--all-commits")
	r.dv(0, "proj", "gc", "-r", "shelf", "--workspace", "--dry-run")
	r.dv(0, "proj", "gc", "-r", "shelf", "--all-commits")
	r.dv(0, "proj", "install")

	// Imports: a pre-signed URL with a password (its record and pointer
	// keep neither), an update, and failures that quote the URL.
	r.once(0, "proj", "import", signedURL("http", host, "/fields.csv"), "raw/fields.csv")
	r.dv(0, "proj", "import", "--update", "raw/fields.csv")
	r.dv(0, "proj", "import", "--update", signedURL("http", host, "/fields.csv"), "raw/fields.csv")
	for _, u := range []string{
		signedURL("http", host, "/missing.csv"),                            // 404
		signedURL("http", host, "/redirect"),                               // to a signed URL that 404s
		signedURL("https", tlsSrv.Listener.Addr().String(), "/fields.csv"), // untrusted certificate
		signedURL("http", "127.0.0.1:1", "/fields.csv"),                    // nothing listens
		"http://dvuser:" + secURLSlash + "@" + host + "/fields.csv",        // unparsable
		"s3://" + secKeyID + ":" + secAccessKey + "@bucket/key.csv",        // credentials in an S3 URL
		"ftp://dvuser:" + secURLPass + "@" + host + "/fields.csv",          // unsupported
	} {
		res := r.dv(-1, "proj", "import", u, "raw/other.csv")
		if res.code == 0 {
			t.Errorf("import of %s succeeded: %v", url.QueryEscape(u), res)
		}
	}

	// Runs, training, metrics, the audit trail, lineage in every format.
	r.once(0, "proj", "run", "-n", "etl", "-d", "data", "-d", "raw/fields.csv", "-o", "curated.csv", "-p", "sep=,", "--",
		"sh", "-c", "cat data/a.csv data/sub/b.csv raw/fields.csv > curated.csv; echo etl done; echo etl warns >&2")
	r.once(0, "proj", "--json", "run", "--force", "-n", "etl", "-d", "data", "-o", "curated.csv", "--",
		"sh", "-c", "cat data/a.csv > curated.csv")
	r.once(0, "proj", "train", "-n", "clf", "-d", "curated.csv", "-d", "labels.csv", "-o", "model.bin", "-M", "m.json", "-p", "trees=3", "--",
		"sh", "-c", `cat curated.csv labels.csv > model.bin; echo '{"rmse": 1.5}' > m.json`)
	r.once(0, "proj", "--json", "train", "-n", "clf", "-d", "curated.csv", "-o", "model.bin", "-M", "m.json", "-p", "trees=5", "--",
		"sh", "-c", `cat curated.csv > model.bin; echo '{"rmse": 1.25}' > m.json`)
	r.once(1, "proj", "run", "-n", "broken", "--", "sh", "-c", "echo failing; exit 4")
	r.dv(0, "proj", "runs")
	r.dv(0, "proj", "runs", "--log", "etl")
	r.dv(0, "proj", "runs", "--name", "clf")
	r.dv(0, "proj", "metrics", "show")
	r.dv(0, "proj", "metrics", "show", "clf")
	r.dv(0, "proj", "metrics", "diff", "clf")

	// Production metrics, stale models, retraining and their alerts, to
	// webhooks whose URL holds a password and a secret path: delivered,
	// unreachable, and from env:NAME holding a token instead of a URL.
	hook := "http://dvuser:" + secURLPass + "@" + host + "/hooks/" + secSignature
	deadHook := "http://dvuser:" + secURLPass + "@127.0.0.1:1/hooks/" + secSignature
	f, err := os.OpenFile(s.path("proj/dv.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString("promotion:\n  criteria:\n    - {metric: rmse, direction: lower, threshold: 2.0}\n")
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
	r.dv(0, "proj", "metrics", "log", "clf", "rmse=9", "--notify", hook)
	r.once(0, "proj", "metrics", "log", "clf", "rmse=9", "--notify", deadHook)
	r.once(0, "proj", "metrics", "log", "clf", "rmse=9", "--notify", "env:HF_TOKEN")
	r.dv(0, "proj", "metrics", "show", "clf", "--history")
	r.dv(1, "proj", "status", "--stale", "--exit-code", "--notify", hook)
	r.once(2, "proj", "status", "--stale", "--notify", "dvuser:"+secURLPass+"@nohost")
	r.once(0, "proj", "retrain", "clf")
	s.run("proj", "git", "add", "-A")
	s.run("proj", "git", "commit", "-q", "-m", "runs")
	r.dv(0, "proj", "diff", "HEAD~1", "HEAD")
	r.dv(0, "proj", "ls", "--rev", "HEAD~1")
	r.dv(0, "proj", "log")
	r.dv(0, "proj", "log", "--type", "run,import", "-n", "3")
	r.dv(0, "proj", "log", "models/clf")
	for _, format := range []string{"text", "json", "dot", "mermaid", "openlineage"} {
		r.once(0, "proj", "lineage", "--format", format, "model.bin")
		r.once(0, "proj", "lineage", "--format", format, "--down", "crop")
		r.once(0, "proj", "lineage", "--format", format, "--up", "curated.csv")
	}
	r.once(0, "proj", "--json", "lineage", "model.bin")
	// The origin with a '/' in its password: openlineage names the repo.
	s.run("proj", "git", "remote", "set-url", "origin", "https://dvgit:"+secURLSlash+"@example.com/acme/crops.git")
	ol := r.once(0, "proj", "lineage", "--format", "openlineage", "model.bin")
	if !strings.Contains(ol.stdout, `"url":"https://example.com/acme/crops.git"`) {
		t.Errorf("openlineage does not name the origin without its credentials: %s", ol.stdout)
	}
	r.once(0, "proj", "push")
	r.dv(0, "proj", "version")
	r.once(0, "proj", "--version")

	// Help, for every command.
	r.dv(0, "proj", "help")
	for _, c := range []string{"init", "add", "status", "checkout", "diff", "ls", "fsck", "gc", "remote", "push", "fetch",
		"pull", "install", "version", "import", "run", "train", "runs", "metrics", "log", "lineage", "retrain"} {
		r.once(0, "proj", "help", c)
		r.once(0, "proj", c, "--help")
	}
	r.once(0, "proj", "remote", "add", "--help")
	r.once(0, "proj", "metrics", "diff", "--help")

	// Failing commands.
	r.dv(2, "proj", "push", "-r", "nosuch")
	r.dv(1, "proj", "lineage", "nosuch")
	r.dv(2, "proj", "nosuch")
	if err := os.MkdirAll(s.path("elsewhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.dv(1, "elsewhere", "status")

	// A dv.yaml edited by hand to hold credentials: every command that
	// reads it refuses it without quoting it.
	yamlPath := s.path("proj/dv.yaml")
	goodYAML, err := os.ReadFile(yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"remotes:\n  default: leak\n  leak: {url: \"s3://" + secKeyID + ":" + secAccessKey + "@bucket/p\"}\n",
		"remotes:\n  default: leak\n  leak: {url: \"s3://" + secKeyID + ":" + secURLSlash + "@bucket/p\"}\n",
		"remotes:\n  default: leak\n  leak: {url: \"file://dvuser:" + secURLPass + "@host/x\"}\n",
		"remotes:\n  default: leak\n  leak: {url: \"s3://bucket/p\", endpoint: \"http://dvuser:" + secURLPass + "@127.0.0.1:9\"}\n",
		"remotes:\n  default: leak\n  leak: {url: \"s3://bucket/p\", endpoint: \"http://u:" + secURLSlash + "@127.0.0.1:9\"}\n",
	} {
		if err := os.WriteFile(yamlPath, []byte("version: 1\n"+bad), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"status", "-r", "leak"}, {"push"}, {"fetch"}, {"pull"}, {"fsck", "-r", "leak"},
			{"gc", "-r", "leak", "--workspace", "--dry-run"}, {"remote", "list"}, {"remote", "add", "x", "../x"},
			{"import", "--update", "raw/fields.csv"}, {"status"}, {"install"},
		} {
			res := r.dv(-1, "proj", args...)
			if res.code == 0 && args[0] != "status" && args[0] != "install" && args[0] != "import" {
				t.Errorf("a dv.yaml holding credentials was accepted: %v", res)
			}
		}
	}
	if err := os.WriteFile(yamlPath, goodYAML, 0o644); err != nil {
		t.Fatal(err)
	}

	// S3: the remote commands and an import, right and wrong credentials.
	if ok, err := haveS3(); err != nil {
		t.Error(err)
	} else if ok {
		secS3(t, r)
	} else {
		t.Log("DV_S3_ENDPOINT is not set: the S3 part is skipped")
	}

	// Everything dv wrote: committed, in the work tree, in .dv (the store's
	// objects decoded: records, run logs, trees), the remote, git hooks.
	s.run("proj", "git", "add", "-A")
	s.run("proj", "git", "commit", "-q", "--allow-empty", "-m", "end")
	secCheckRunEnv(t, r)
	scanned := secScanFiles(t, r.secrets, s.path("proj"), s.path("shelf"))
	nobj := secScanStore(t, r.secrets, s.path("proj/.dv"))
	hist := s.run("proj", "git", "log", "--all", "-p", "--format=%H %an %ae %s")
	for _, sec := range r.secrets {
		if strings.Contains(hist.stdout, sec) {
			t.Errorf("git history holds the secret %q", sec)
		}
	}
	t.Logf("%d dv commands run; %d files and %d stored objects scanned; %d bytes of git history", r.runs, scanned, nobj, len(hist.stdout))
}

// secS3 runs the remote commands against versitygw with the right
// credentials (whose values are then secrets too) and wrong ones, and an
// S3 import.
func secS3(t *testing.T, r *secRun) {
	ep := os.Getenv("DV_S3_ENDPOINT")
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		t.Fatal("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set with DV_S3_ENDPOINT")
	}
	r.secrets = append(r.secrets, key, secret)
	bucket := testBucket(t, ep, "dvsecrets")
	c, err := s3test.NewClient(context.Background(), ep, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("src/fields.csv"),
		Body: strings.NewReader("field,yield\nc,3.5\n")}); err != nil {
		t.Fatal(err)
	}
	right := append(slices.Clone(secEnv), "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_SESSION_TOKEN=")
	wrongSecret := append(slices.Clone(secEnv), "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secWrongS3, "AWS_SESSION_TOKEN=")
	unknownKey := append(slices.Clone(secEnv), "AWS_ACCESS_KEY_ID="+secWrongS3Key, "AWS_SECRET_ACCESS_KEY="+secWrongS3, "AWS_SESSION_TOKEN=")
	madeUpToken := append(slices.Clone(right), "AWS_SESSION_TOKEN="+secToken)
	defer func(env []string) { r.env = env }(r.env)

	r.env = right
	r.dv(0, "proj", "remote", "add", "s3", "s3://"+bucket+"/team", "--endpoint", ep, "--path-style")
	r.dv(2, "proj", "remote", "add", "s3leak", "s3://"+key+":"+secret+"@"+bucket+"/team", "--endpoint", ep)
	commands := [][]string{
		{"push", "-r", "s3"}, {"push", "-r", "s3", "-v"}, {"fetch", "-r", "s3"}, {"pull", "-r", "s3"},
		{"status", "-r", "s3"}, {"fsck", "-r", "s3"}, {"gc", "-r", "s3", "--workspace", "--dry-run"},
		{"remote", "list"},
	}
	for i, creds := range []struct {
		name string
		env  []string
		want int // 1: succeeds, 0: fails
	}{{"right credentials", right, 1}, {"right credentials and a made-up session token", madeUpToken, 0},
		{"wrong secret", wrongSecret, 0}, {"unknown key", unknownKey, 0}} {
		r.env = creds.env
		for j, args := range commands {
			res := r.dv(-1, "proj", args...)
			if j == 0 {
				t.Logf("%s: dv %s: exit %d %s", creds.name, strings.Join(args, " "), res.code, strings.TrimSpace(res.stderr))
			}
			switch {
			case creds.want == 1 || args[0] == "remote":
				if res.code != 0 {
					t.Errorf("%s: %v", creds.name, res)
				}
			case creds.want == 0 && res.code == 0:
				t.Errorf("%s: succeeded: %v", creds.name, res)
			case creds.want == 0 && !strings.Contains(res.stderr, "refused the credentials"):
				t.Errorf("%s: the error does not say the credentials were refused: %v", creds.name, res)
			}
		}
		res := r.dv(-1, "proj", "import", "s3://"+bucket+"/src/fields.csv", fmt.Sprintf("raw/s3-%d.csv", i))
		if (creds.want == 1) != (res.code == 0) {
			t.Errorf("%s: import from S3: %v", creds.name, res)
		}
	}
}

// secCheckRunEnv checks the env facet of every run record: only the
// machine facts dv collects (os, arch, cpu, tool versions, lock-file
// hashes), and no environment variable's value in it.
func secCheckRunEnv(t *testing.T, r *secRun) {
	t.Helper()
	res := r.once(0, "proj", "--json", "runs")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &runs); err != nil || len(runs) < 4 {
		t.Fatalf("dv --json runs: %v (%d runs): %s", err, len(runs), res.stdout)
	}
	var values []string
	for _, kv := range append(slices.Clone(r.env), os.Environ()...) {
		if _, v, _ := strings.Cut(kv, "="); len(v) >= 8 {
			values = append(values, v)
		}
	}
	allowed := map[string]bool{"os": true, "arch": true, "cpu": true, "cpus": true, "versions": true, "lock_files": true}
	for _, run := range runs {
		env, ok := run["env"].(map[string]any)
		if !ok {
			t.Errorf("run %v has no env facet", run["id"])
			continue
		}
		for k := range env {
			if !allowed[k] {
				t.Errorf("run %v: env facet key %q", run["id"], k)
			}
		}
		if vs, ok := env["versions"].(map[string]any); ok {
			for k := range vs {
				if k != "go" && k != "python" && k != "dv" {
					t.Errorf("run %v: env facet version of %q", run["id"], k)
				}
			}
		}
		b, _ := json.Marshal(env)
		for _, v := range values {
			if strings.Contains(string(b), v) {
				t.Errorf("run %v: the env facet holds an environment variable's value %q: %s", run["id"], v, b)
			}
		}
	}
}

// secScanFiles reads every file below roots (not .git, but its hooks)
// and fails on any secret; it returns how many files it read.
func secScanFiles(t *testing.T, secrets []string, roots ...string) int {
	t.Helper()
	n := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if d.IsDir() && rel == ".git" {
				return filepath.SkipDir
			}
			if d.Type()&os.ModeSymlink != 0 || d.IsDir() {
				return nil
			}
			n++
			return secScanFile(t, secrets, p)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	hooks, _ := filepath.Glob(filepath.Join(roots[0], ".git", "hooks", "*"))
	for _, h := range hooks {
		n++
		if err := secScanFile(t, secrets, h); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func secScanFile(t *testing.T, secrets []string, p string) error {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	for _, sec := range secrets {
		if strings.Contains(string(b), sec) {
			t.Errorf("%s holds the secret %q", p, sec)
		}
	}
	return nil
}

// secScanStore decodes every object of the store in dir (records, run
// logs, trees, data) and fails on any secret; it returns the count.
func secScanStore(t *testing.T, secrets []string, dir string) int {
	t.Helper()
	st, err := objects.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []objects.ID
	st.Each(func(l objects.Loc) { ids = append(ids, l.ID) })
	for _, id := range ids {
		typ, b, err := st.Load(context.Background(), id)
		if err != nil {
			t.Errorf("load %s: %v", id, err)
			continue
		}
		for _, sec := range secrets {
			if strings.Contains(string(b), sec) {
				t.Errorf("stored %s %s holds the secret %q: %.300s", typ, id.Short(), sec, b)
			}
		}
	}
	if len(ids) == 0 {
		t.Error("the store holds no object: nothing was scanned")
	}
	return len(ids)
}
