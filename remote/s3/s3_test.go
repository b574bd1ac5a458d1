package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/remotetest"
)

func TestMain(m *testing.M) {
	// Never let the credential chain probe the instance metadata address.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// endpoint returns the test server's URL. CI sets DV_REQUIRE_S3 so that a
// missing server fails instead of skipping.
func endpoint(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("DV_S3_ENDPOINT")
	if ep == "" {
		if os.Getenv("DV_REQUIRE_S3") != "" {
			t.Fatal("DV_REQUIRE_S3 is set but DV_S3_ENDPOINT is not: start versitygw with `source .ci/s3-server.sh`")
		}
		t.Skip("DV_S3_ENDPOINT is not set: run `source .ci/s3-server.sh` first to test against versitygw")
	}
	return ep
}

func randName(t *testing.T, prefix string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// newBucket creates a fresh bucket on ep with the SDK and removes it,
// with everything in it, after the test.
func newBucket(t *testing.T, ep string) string {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(ep)
		o.UsePathStyle = true
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	bucket := randName(t, "dvtest-")
	if _, err := c.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() {
		ctx := context.Background() // t.Context() is done by now
		p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				break
			}
			for _, o := range page.Contents {
				_, _ = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		_, _ = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	return bucket
}

func open(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	ep := endpoint(t)
	t.Run("bucket", func(t *testing.T) {
		remotetest.Run(t, func(t *testing.T) remote.Store {
			return open(t, Options{URL: "s3://" + newBucket(t, ep), Endpoint: ep, PathStyle: true})
		})
	})
	t.Run("prefix", func(t *testing.T) {
		bucket := newBucket(t, ep)
		remotetest.Run(t, func(t *testing.T) remote.Store {
			return open(t, Options{URL: "s3://" + bucket + "/" + randName(t, "p") + "/team", Endpoint: ep, PathStyle: true})
		})
	})
}

func TestEndpointFromEnvironment(t *testing.T) {
	ep := endpoint(t)
	bucket := newBucket(t, ep)
	t.Setenv("AWS_ENDPOINT_URL_S3", ep)
	s := open(t, Options{URL: "s3://" + bucket + "/env", PathStyle: true})
	if got, want := s.String(), "s3://"+bucket+"/env at "+ep; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	if err := s.Put(t.Context(), "packs/e", strings.NewReader("env"), 3); err != nil {
		t.Fatal(err)
	}
}

func TestWrongCredentials(t *testing.T) {
	ep := endpoint(t)
	bucket := newBucket(t, ep)
	realKey := os.Getenv("AWS_ACCESS_KEY_ID")
	for _, tc := range []struct{ name, key, secret string }{
		{"unknown key", "AKIADVWRONGKEY000001", "dv-wrong-secret-0123456789"},
		{"wrong secret", realKey, "dv-wrong-secret-9876543210"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", tc.key)
			t.Setenv("AWS_SECRET_ACCESS_KEY", tc.secret)
			s := open(t, Options{URL: "s3://" + bucket + "/p", Endpoint: ep, PathStyle: true})
			ops := map[string]func() error{
				"put": func() error { return s.Put(t.Context(), "packs/a", strings.NewReader("x"), 1) },
				"get": func() error { _, err := s.Get(t.Context(), "packs/a", 0, -1); return err },
				"stat": func() error {
					_, err := s.Stat(t.Context(), "packs/a")
					return err
				},
				"list":   func() error { return s.List(t.Context(), "", func(remote.Info) error { return nil }) },
				"put-if": func() error { _, err := s.PutIf(t.Context(), "refs/a", []byte("x"), ""); return err },
			}
			for op, fn := range ops {
				err := fn()
				if !errors.Is(err, remote.ErrAuth) {
					t.Fatalf("%s: %v, want ErrAuth", op, err)
				}
				msg := err.Error()
				if strings.Contains(msg, tc.secret) || strings.Contains(msg, tc.key) || strings.Contains(msg, "\n") {
					t.Fatalf("%s: message leaks a credential or spans lines: %q", op, msg)
				}
				t.Logf("%s: %s", op, msg)
			}
		})
	}
}

func TestMissingBucket(t *testing.T) {
	ep := endpoint(t)
	s := open(t, Options{URL: "s3://" + randName(t, "dvtest-missing-") + "/p", Endpoint: ep, PathStyle: true})
	checks := map[string]error{
		"put":  s.Put(t.Context(), "packs/a", strings.NewReader("x"), 1),
		"list": s.List(t.Context(), "packs/", func(remote.Info) error { return nil }),
	}
	_, checks["stat"] = s.Stat(t.Context(), "packs/a")
	_, checks["get"] = s.Get(t.Context(), "packs/a", 0, -1)
	_, checks["put-if"] = s.PutIf(t.Context(), "refs/a", []byte("x"), "")
	for op, err := range checks {
		if !errors.Is(err, remote.ErrNoBucket) {
			t.Fatalf("%s: %v, want ErrNoBucket", op, err)
		}
		t.Logf("%s: %s", op, err)
	}
}

func TestUnreachable(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "dvtestkey")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "dvtestsecret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	s := open(t, Options{URL: "s3://bucket/p", Endpoint: ep, PathStyle: true, MaxAttempts: 2})
	start := time.Now()
	_, err = s.Stat(t.Context(), "packs/a")
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("stat: %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v to give up", d)
	}
	if !strings.Contains(err.Error(), ep) || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("message does not name the endpoint and attempts: %q", err)
	}
	t.Log(err)
	if err := s.Put(t.Context(), "packs/a", strings.NewReader("x"), 1); !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("put: %v, want ErrUnreachable", err)
	}
}

func TestCounter(t *testing.T) {
	ep := endpoint(t)
	c := NewCounter(nil)
	s := open(t, Options{URL: "s3://" + newBucket(t, ep) + "/c", Endpoint: ep, PathStyle: true, Transport: c})
	data := bytes.Repeat([]byte("dv"), 50_000)
	if err := s.Put(t.Context(), "packs/a", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if got := c.Requests(); c.Total() != 1 || got["PUT"] != 1 {
		t.Fatalf("a small Put sent %v", got)
	}
	b, err := remote.ReadRange(t.Context(), s, "packs/a", 10, 1000)
	if err != nil || !bytes.Equal(b, data[10:1010]) {
		t.Fatalf("read back: %v", err)
	}
	if _, err := s.Stat(t.Context(), "packs/a"); err != nil {
		t.Fatal(err)
	}
	if got := c.Requests(); c.Total() != 3 || got["GET"] != 1 || got["HEAD"] != 1 {
		t.Fatalf("Put, Get, Stat sent %v", got)
	}
	t.Logf("Put + Get + Stat: %v", c.Requests())
	c.Reset()
	if c.Total() != 0 || len(c.Requests()) != 0 {
		t.Fatalf("after Reset: %d, %v", c.Total(), c.Requests())
	}
}

// onlyReader hides every method but Read, as a pipe would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestMultipart(t *testing.T) {
	ep := endpoint(t)
	c := NewCounter(nil)
	s := open(t, Options{URL: "s3://" + newBucket(t, ep) + "/m", Endpoint: ep, PathStyle: true, Transport: c})
	data := make([]byte, multipartThreshold+5<<20+12345)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "packs/big", onlyReader{bytes.NewReader(data)}, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	// CreateMultipartUpload + 5 parts (4 × 16 MiB + the rest) + Complete.
	wantParts := int64((len(data) + partSize - 1) / partSize)
	if got := c.Requests(); got["POST"] != 2 || got["PUT"] != wantParts {
		t.Fatalf("a %d MiB Put sent %v, want 2 POST and %d PUT", len(data)>>20, got, wantParts)
	}
	t.Logf("%d MiB multipart Put: %v", len(data)>>20, c.Requests())
	fi, err := s.Stat(t.Context(), "packs/big")
	if err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("stat: %+v, %v", fi, err)
	}
	got, err := remote.ReadAll(t.Context(), s, "packs/big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	off := int64(16<<20 - 100) // across the first part boundary
	part, err := remote.ReadRange(t.Context(), s, "packs/big", off, 200)
	if err != nil || !bytes.Equal(part, data[off:off+200]) {
		t.Fatalf("range across parts: %v", err)
	}
}

func TestSizeMismatch(t *testing.T) {
	ep := endpoint(t)
	s := open(t, Options{URL: "s3://" + newBucket(t, ep), Endpoint: ep, PathStyle: true})
	big := make([]byte, 33<<20)
	for _, tc := range []struct {
		name string
		r    io.Reader
		size int64
	}{
		{"short seekable", bytes.NewReader([]byte("abc")), 4},
		{"long seekable", bytes.NewReader([]byte("abcde")), 4},
		{"short stream", onlyReader{strings.NewReader("abc")}, 4},
		{"long stream", onlyReader{strings.NewReader("abcde")}, 4},
		{"short multipart", onlyReader{bytes.NewReader(big)}, int64(len(big)) + 1},
		{"long multipart", onlyReader{bytes.NewReader(big)}, int64(len(big)) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Put(t.Context(), "packs/x", tc.r, tc.size); !errors.Is(err, errSize) {
				t.Fatalf("put: %v, want a size error", err)
			}
			if _, err := s.Stat(t.Context(), "packs/x"); !errors.Is(err, remote.ErrNotFound) {
				t.Fatalf("a failed put left a blob: %v", err)
			}
		})
	}
	if err := s.Put(t.Context(), "packs/y", strings.NewReader("abc"), 3); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.ReadRange(t.Context(), s, "packs/y", 1, 5); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("range past the end: %v, want ErrUnexpectedEOF", err)
	}
}
