package main

// The S3 side of P5–P7: the server (DV_S3_ENDPOINT, or versitygw started
// here on a free loopback port), a counting reverse proxy in front of it
// through which dv sends every request so that they are counted, raw SDK
// clients (one through the proxy, one straight to the server with a
// counting http.RoundTripper) and a bucket.

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dv-ml/dv/remote/s3/s3test"
)

// s3env is the server, the proxy and the bucket the S3 goals use.
type s3env struct {
	endpoint string        // the server
	started  string        // "versitygw (started here)" or "DV_S3_ENDPOINT"
	proxy    *s3test.Proxy // in front of endpoint: dv's counted requests go through it
	sdk      *awss3.Client // through the proxy
	direct   *awss3.Client // straight to the server, its requests counted by directRT
	directRT *s3test.Counter
	bucket   string

	gw     *exec.Cmd // versitygw, when started here
	gwDone chan struct{}
}

// wantS3 says whether a goal that needs the S3 server is selected.
func (c config) wantS3() bool { return c.want("P5") || c.want("P6") || c.want("P7") }

// s3Skip is printed when there is no server and no versitygw to start.
const s3Skip = "skipped: P5, P6 and P7 (no S3 server: DV_S3_ENDPOINT is not set and versitygw is not installed); " +
	"run .ci/bench, which starts one, or `source .ci/s3-server.sh` first"

// setupS3 finds or starts the server, puts the counting proxy in front of
// it and creates a fresh bucket. With no server to use it returns nil and
// no error: the S3 goals are skipped with a note.
func (b *bench) setupS3(ctx context.Context) (*s3env, error) {
	e := &s3env{endpoint: os.Getenv("DV_S3_ENDPOINT")}
	e.started = "DV_S3_ENDPOINT=" + e.endpoint
	// The credential chain must never probe the instance metadata address.
	_ = os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if e.endpoint == "" {
		bin := os.Getenv("DV_VERSITYGW")
		if bin == "" {
			if out, err := exec.CommandContext(ctx, "go", "env", "GOPATH").Output(); err == nil {
				bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
			}
		}
		if _, err := os.Stat(bin); bin == "" || err != nil {
			return nil, nil
		}
		if err := e.startVersitygw(ctx, bin, filepath.Join(b.root, "s3")); err != nil {
			return nil, err
		}
		e.started = bin + " (started by dvbench)"
	}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		_ = os.Setenv("AWS_REGION", "us-east-1")
	}
	var err error
	if e.proxy, err = s3test.NewProxy(e.endpoint); err != nil {
		e.close()
		return nil, err
	}
	e.directRT = &s3test.Counter{}
	if e.direct, err = s3test.NewClient(ctx, e.endpoint, e.directRT.Wrap); err == nil {
		e.sdk, err = s3test.NewClient(ctx, e.proxy.URL, nil)
	}
	if err != nil {
		e.close()
		return nil, err
	}
	e.bucket = "dvbench-" + s3test.RandHex(5)
	if _, err := e.direct.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(e.bucket)}); err != nil {
		e.close()
		return nil, fmt.Errorf("create bucket %s on %s: %w", e.bucket, e.endpoint, err)
	}
	return e, nil
}

// startVersitygw starts versitygw (posix backend) below dir on a free
// loopback port and waits until it answers. Without credentials in the
// environment it makes some up and exports them, for dv too.
func (e *s3env) startVersitygw(ctx context.Context, bin, dir string) error {
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
		_ = os.Setenv("AWS_ACCESS_KEY_ID", "dvbenchkey")
		_ = os.Setenv("AWS_SECRET_ACCESS_KEY", "dvbenchsecret-"+s3test.RandHex(8))
		_ = os.Unsetenv("AWS_SESSION_TOKEN")
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--port", addr, "--health", "/healthz", "--keep-alive", "--quiet", "posix", data)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+os.Getenv("AWS_ACCESS_KEY_ID"),
		"ROOT_SECRET_KEY="+os.Getenv("AWS_SECRET_ACCESS_KEY"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	e.gw, e.gwDone = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(e.gwDone) }()
	e.endpoint = "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-e.gwDone:
			msg, _ := os.ReadFile(logf.Name())
			return fmt.Errorf("versitygw exited at start: %s", strings.TrimSpace(string(msg)))
		case <-ctx.Done():
			e.close()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if r, err := http.Get(e.endpoint + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			e.close()
			return fmt.Errorf("versitygw on %s did not answer /healthz within 20 s", addr)
		}
	}
}

// close empties and deletes the bucket, stops the proxy and the server.
func (e *s3env) close() {
	if e == nil {
		return
	}
	if e.direct != nil && e.bucket != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := s3test.DeletePrefix(ctx, e.direct, e.bucket, ""); err == nil {
			_, _ = e.direct.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(e.bucket)})
		}
		cancel()
		e.bucket = ""
	}
	if e.proxy != nil {
		e.proxy.Close()
		e.proxy = nil
	}
	if e.gw != nil {
		_ = e.gw.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.gwDone:
		case <-time.After(5 * time.Second):
			_ = e.gw.Process.Kill()
			<-e.gwDone
		}
		e.gw = nil
	}
}

// methods formats per-method request counts, e.g. "GET 3, PUT 40".
func methods(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
