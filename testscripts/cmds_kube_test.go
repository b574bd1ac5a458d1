package testscripts

// A fake Kubernetes API server for the compute_kube_* scripts. No real
// cluster is involved: the real kubectl talks to this loopback HTTP server
// through a kubeconfig that points at it. The server serves the discovery
// documents kubectl needs for batch/v1 Jobs, checks every Job dv creates
// (batch/v1, restartPolicy Never, backoffLimit, ttlSecondsAfterFinished,
// activeDeadlineSeconds, dv's labels, an image pinned by digest), plays
// the Job's status transitions (pending, active, Complete or Failed) while
// it runs the pod's command locally, serves the pod's log (with
// timestamps=true and sinceTime, as kubelet does), and records
// deletes with their propagation policy.
//
//	kubefake     start it; writes $WORK/kube/config (KUBECONFIG is set)
//	             and appends each request to $WORK/kube/requests.log;
//	             each created Job is saved as $WORK/kube/job-NAME.json

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

type fakeJob struct {
	name, ns   string
	obj        map[string]any
	created    time.Time
	mu         sync.Mutex
	started    bool
	done       bool
	exit       int
	unpullable bool
	log        bytes.Buffer
	lines      []timedLine // the log's complete lines, with when they came
	cmd        *exec.Cmd
}

type timedLine struct {
	t    time.Time
	text []byte
}

type fakeKube struct {
	dir  string
	env  []string // the script's environment, for the pods' commands
	mu   sync.Mutex
	jobs map[string]*fakeJob // ns/name
	logf *os.File
	wg   sync.WaitGroup
}

var fakeDigest = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

func cmdKubeFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 0 {
		ts.Fatalf("usage: kubefake")
	}
	dir := ts.MkAbs("kube")
	ts.Check(os.MkdirAll(dir, 0o755))
	logf, err := os.Create(filepath.Join(dir, "requests.log"))
	ts.Check(err)
	var env []string
	for _, k := range []string{"PATH", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "GIT_CONFIG_NOSYSTEM",
		"GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "TMPDIR"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	fk := &fakeKube{dir: dir, env: env, jobs: map[string]*fakeJob{}, logf: logf}
	srv := httptest.NewServer(http.HandlerFunc(fk.serve))
	ts.Defer(func() {
		srv.Close()
		fk.mu.Lock()
		for _, j := range fk.jobs {
			j.kill()
		}
		fk.mu.Unlock()
		fk.wg.Wait()
		logf.Close()
	})
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {server: %q}
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: default}
current-context: fake
users:
- name: fake
  user: {token: not-a-secret}
`, srv.URL)
	path := filepath.Join(dir, "config")
	ts.Check(os.WriteFile(path, []byte(config), 0o600))
	ts.Setenv("KUBECONFIG", path)
	ts.Setenv("KUBECACHEDIR", filepath.Join(dir, "cache"))
}

func (fk *fakeKube) record(format string, args ...any) {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	fmt.Fprintf(fk.logf, format+"\n", args...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure",
		"message": msg, "reason": reason, "code": code})
}

var (
	jobsPath = regexp.MustCompile(`^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$`)
	nsPath   = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)$`)
	podsPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+)(/log)?)?$`)
)

func (fk *fakeKube) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := ""
	if r.URL.RawQuery != "" {
		q = "?" + r.URL.RawQuery
	}
	fk.record("%s %s%s", r.Method, r.URL.Path, q)
	switch r.URL.Path {
	case "/api":
		writeJSON(w, 200, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
		return
	case "/apis":
		writeJSON(w, 200, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{
			map[string]any{"name": "batch", "versions": []any{map[string]string{"groupVersion": "batch/v1", "version": "v1"}},
				"preferredVersion": map[string]string{"groupVersion": "batch/v1", "version": "v1"}}}})
		return
	case "/api/v1":
		writeJSON(w, 200, map[string]any{"kind": "APIResourceList", "groupVersion": "v1", "resources": []any{
			map[string]any{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": []string{"get", "list", "delete"}},
			map[string]any{"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": []string{"get"}},
		}})
		return
	case "/apis/batch/v1":
		writeJSON(w, 200, map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "batch/v1", "resources": []any{
			map[string]any{"name": "jobs", "singularName": "job", "namespaced": true, "kind": "Job",
				"verbs": []string{"create", "delete", "get", "list", "patch", "update", "watch"}},
		}})
		return
	case "/openapi/v3":
		// Just enough OpenAPI v3 for kubectl to see that the server
		// validates fields itself (fieldValidation on Job PATCH), so that
		// it sends ?fieldValidation=Strict instead of validating locally.
		writeJSON(w, 200, map[string]any{"paths": map[string]any{
			"apis/batch/v1": map[string]any{"serverRelativeURL": "/openapi/v3/apis/batch/v1?hash=fake"}}})
		return
	case "/openapi/v3/apis/batch/v1":
		op := map[string]any{
			"x-kubernetes-group-version-kind": map[string]any{"group": "batch", "version": "v1", "kind": "Job"},
			"parameters":                      []any{map[string]any{"name": "fieldValidation", "in": "query", "schema": map[string]any{"type": "string"}}},
			"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
		}
		writeJSON(w, 200, map[string]any{"openapi": "3.0.0", "info": map[string]any{"title": "fake", "version": "v1"},
			"paths": map[string]any{"/apis/batch/v1/namespaces/{namespace}/jobs/{name}": map[string]any{"patch": op, "post": op}}})
		return
	case "/version":
		writeJSON(w, 200, map[string]string{"major": "1", "minor": "30", "gitVersion": "v1.30.0-fake"})
		return
	}
	if m := nsPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == "GET" {
		// kubectl asks whether the namespace exists after a NotFound,
		// to say which of the two is missing.
		writeJSON(w, 200, map[string]any{"kind": "Namespace", "apiVersion": "v1",
			"metadata": map[string]any{"name": m[1]}, "status": map[string]any{"phase": "Active"}})
		return
	}
	if m := jobsPath.FindStringSubmatch(r.URL.Path); m != nil {
		fk.serveJobs(w, r, m[1], m[2], body)
		return
	}
	if m := podsPath.FindStringSubmatch(r.URL.Path); m != nil {
		fk.servePods(w, r, m[1], m[2], m[3] != "")
		return
	}
	status(w, 404, "NotFound", "the fake API server does not serve "+r.URL.Path)
}

func (fk *fakeKube) job(ns, name string) *fakeJob {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	return fk.jobs[ns+"/"+name]
}

func (fk *fakeKube) serveJobs(w http.ResponseWriter, r *http.Request, ns, name string, body []byte) {
	switch {
	case r.Method == "POST" && name == "":
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			status(w, 400, "BadRequest", err.Error())
			return
		}
		if problem := checkFakeJob(obj, ns); problem != "" {
			fk.record("REFUSED %s", problem)
			status(w, 422, "Invalid", "Job is invalid: "+problem)
			return
		}
		meta := obj["metadata"].(map[string]any)
		jname := meta["name"].(string)
		meta["namespace"], meta["uid"] = ns, "uid-"+jname
		meta["creationTimestamp"] = time.Now().UTC().Format(time.RFC3339)
		spec := obj["spec"].(map[string]any)
		spec["selector"] = map[string]any{"matchLabels": map[string]any{"job-name": jname}}
		tmeta := spec["template"].(map[string]any)["metadata"].(map[string]any)
		tmeta["labels"].(map[string]any)["job-name"] = jname
		_ = os.WriteFile(filepath.Join(fk.dir, "job-"+jname+".json"), body, 0o644)
		j := &fakeJob{name: jname, ns: ns, obj: obj, created: time.Now()}
		fk.mu.Lock()
		fk.jobs[ns+"/"+jname] = j
		fk.mu.Unlock()
		fk.record("CREATED %s/%s", ns, jname)
		writeJSON(w, 201, obj)
	case r.Method == "GET" && name != "":
		j := fk.job(ns, name)
		if j == nil {
			status(w, 404, "NotFound", fmt.Sprintf("jobs.batch %q not found", name))
			return
		}
		fk.advance(j)
		writeJSON(w, 200, j.view())
	case r.Method == "DELETE" && name != "":
		var opts struct {
			PropagationPolicy string `json:"propagationPolicy"`
		}
		_ = json.Unmarshal(body, &opts)
		if p := r.URL.Query().Get("propagationPolicy"); p != "" {
			opts.PropagationPolicy = p
		}
		fk.mu.Lock()
		j := fk.jobs[ns+"/"+name]
		delete(fk.jobs, ns+"/"+name)
		fk.mu.Unlock()
		if j == nil {
			status(w, 404, "NotFound", fmt.Sprintf("jobs.batch %q not found", name))
			return
		}
		fk.record("DELETED %s/%s propagationPolicy=%s", ns, name, opts.PropagationPolicy)
		j.kill()
		writeJSON(w, 200, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Success"})
	default:
		status(w, 405, "MethodNotAllowed", r.Method+" "+r.URL.Path)
	}
}

// checkFakeJob returns what is wrong with a Job dv sent ("" when nothing).
func checkFakeJob(obj map[string]any, ns string) string {
	get := func(path ...string) any {
		var v any = obj
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		return v
	}
	switch {
	case get("apiVersion") != "batch/v1" || get("kind") != "Job":
		return "not a batch/v1 Job"
	case get("metadata", "namespace") != nil && get("metadata", "namespace") != ns:
		return "namespace mismatch"
	case get("spec", "template", "spec", "restartPolicy") != "Never":
		return "restartPolicy is not Never"
	case get("spec", "backoffLimit") != float64(0):
		return "backoffLimit is not 0"
	case get("spec", "ttlSecondsAfterFinished") == nil || get("spec", "activeDeadlineSeconds") == nil:
		return "no ttlSecondsAfterFinished or activeDeadlineSeconds"
	}
	labels, _ := get("metadata", "labels").(map[string]any)
	if labels["app.kubernetes.io/managed-by"] != "dv" || labels["dv.dev/run"] == nil {
		return "labels do not name dv and the run"
	}
	cs, _ := get("spec", "template", "spec", "containers").([]any)
	if len(cs) != 1 {
		return "want one container"
	}
	c := cs[0].(map[string]any)
	if img, _ := c["image"].(string); !fakeDigest.MatchString(img) {
		return "image not pinned by digest"
	}
	return ""
}

// advance starts a job's pod on the first poll after creation (so that
// the first poll sees it pending).
func (fk *fakeKube) advance(j *fakeJob) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.started {
		return
	}
	j.started = true
	c := j.obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	var argv []string
	for _, a := range c["command"].([]any) {
		argv = append(argv, a.(string))
	}
	env := append([]string{}, fk.env...)
	if list, ok := c["env"].([]any); ok {
		for _, e := range list {
			em := e.(map[string]any)
			v, _ := em["value"].(string)
			if em["valueFrom"] != nil {
				v = "fake-node-1" // spec.nodeName through the downward API
			}
			env = append(env, em["name"].(string)+"="+v)
		}
	}
	if img, _ := c["image"].(string); strings.HasSuffix(img, strings.Repeat("f", 64)) {
		j.unpullable = true // an image no registry has: the pod waits forever
		fk.record("POD WAITING %s/%s ErrImagePull", j.ns, j.name)
		return
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = fk.dir
	cmd.Stdout, cmd.Stderr = &lockedBuf{j: j}, &lockedBuf{j: j}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		j.done, j.exit = true, 127
		fmt.Fprintf(&j.log, "start: %v\n", err)
		return
	}
	j.cmd = cmd
	fk.record("POD STARTED %s/%s", j.ns, j.name)
	fk.wg.Add(1)
	go func() {
		defer fk.wg.Done()
		err := cmd.Wait()
		j.mu.Lock()
		j.done, j.exit = true, cmd.ProcessState.ExitCode()
		if err != nil && j.exit < 0 {
			j.exit = 137
		}
		j.mu.Unlock()
		fk.record("POD EXITED %s/%s %d", j.ns, j.name, j.exit)
	}()
}

type lockedBuf struct{ j *fakeJob }

func (b *lockedBuf) Write(p []byte) (int, error) {
	b.j.mu.Lock()
	defer b.j.mu.Unlock()
	n, err := b.j.log.Write(p)
	for {
		done := 0
		for _, l := range b.j.lines {
			done += len(l.text)
		}
		rest := b.j.log.Bytes()[done:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return n, err
		}
		b.j.lines = append(b.j.lines, timedLine{t: time.Now().UTC(), text: append([]byte{}, rest[:i+1]...)})
	}
}

// logText is the pod's log as the API server serves it: with each line's
// RFC3339Nano timestamp (timestamps=true), from sinceTime on (inclusive,
// whole seconds), and a partial last line as it is.
func (j *fakeJob) logText(q url.Values) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	since, _ := time.Parse(time.RFC3339, q.Get("sinceTime"))
	var out, done []byte
	for _, l := range j.lines {
		done = append(done, l.text...)
		if l.t.Before(since) {
			continue
		}
		if q.Get("timestamps") == "true" {
			out = append(out, l.t.Format(time.RFC3339Nano)+" "...)
		}
		out = append(out, l.text...)
	}
	return append(out, j.log.Bytes()[len(done):]...)
}

func (j *fakeJob) kill() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cmd != nil && !j.done {
		_ = syscall.Kill(-j.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// view is the Job with its status now.
func (j *fakeJob) view() map[string]any {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := map[string]any{}
	switch {
	case !j.started:
	case !j.done:
		st["active"] = 1
		st["startTime"] = j.created.UTC().Format(time.RFC3339)
	case j.exit == 0:
		st["succeeded"] = 1
		st["conditions"] = []any{map[string]any{"type": "Complete", "status": "True"}}
	default:
		st["failed"] = 1
		st["conditions"] = []any{map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
			"message": "Job has reached the specified backoff limit"}}
	}
	out := map[string]any{}
	for k, v := range j.obj {
		out[k] = v
	}
	out["status"] = st
	return out
}

func (j *fakeJob) pod() map[string]any {
	j.mu.Lock()
	defer j.mu.Unlock()
	state := map[string]any{"running": map[string]any{}}
	phase := "Running"
	if j.unpullable {
		state = map[string]any{"waiting": map[string]any{"reason": "ErrImagePull", "message": "manifest unknown"}}
		phase = "Pending"
	}
	if j.done {
		state = map[string]any{"terminated": map[string]any{"exitCode": j.exit, "reason": map[bool]string{true: "Completed", false: "Error"}[j.exit == 0]}}
		phase = map[bool]string{true: "Succeeded", false: "Failed"}[j.exit == 0]
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": j.name + "-pod", "namespace": j.ns, "labels": map[string]any{"job-name": j.name},
			"creationTimestamp": j.created.UTC().Format(time.RFC3339)},
		"spec":   map[string]any{"nodeName": "fake-node-1", "containers": []any{map[string]any{"name": "dv"}}},
		"status": map[string]any{"phase": phase, "containerStatuses": []any{map[string]any{"name": "dv", "state": state}}}}
}

func (fk *fakeKube) servePods(w http.ResponseWriter, r *http.Request, ns, name string, log bool) {
	if r.Method != "GET" {
		status(w, 405, "MethodNotAllowed", r.Method)
		return
	}
	fk.mu.Lock()
	var jobs []*fakeJob
	for _, j := range fk.jobs {
		if j.ns == ns {
			jobs = append(jobs, j)
		}
	}
	fk.mu.Unlock()
	if name == "" {
		sel := r.URL.Query().Get("labelSelector")
		items := []any{}
		for _, j := range jobs {
			j.mu.Lock()
			started := j.started
			j.mu.Unlock()
			if started && (sel == "" || strings.Contains(sel, "job-name="+j.name)) {
				items = append(items, j.pod())
			}
		}
		writeJSON(w, 200, map[string]any{"kind": "PodList", "apiVersion": "v1", "metadata": map[string]any{}, "items": items})
		return
	}
	for _, j := range jobs {
		if j.name+"-pod" == name {
			if !log {
				writeJSON(w, 200, j.pod())
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(j.logText(r.URL.Query()))
			return
		}
	}
	status(w, 404, "NotFound", fmt.Sprintf("pods %q not found", name))
}
