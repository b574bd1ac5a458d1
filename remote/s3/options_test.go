package s3

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
		hide []string // must not appear in the error
	}{
		{"bucket", Options{URL: "s3://bucket"}, true, nil},
		{"prefix", Options{URL: "s3://my-bucket.v2/team/data/"}, true, nil},
		{"endpoint", Options{URL: "s3://bucket", Endpoint: "http://127.0.0.1:7070"}, true, nil},
		{"empty", Options{}, false, nil},
		{"no scheme", Options{URL: "bucket/p"}, false, nil},
		{"other scheme", Options{URL: "gs://bucket"}, false, nil},
		{"no bucket", Options{URL: "s3://"}, false, nil},
		{"short bucket", Options{URL: "s3://ab"}, false, nil},
		{"bad bucket", Options{URL: "s3://bu cket/p"}, false, nil},
		{"userinfo", Options{URL: "s3://AKIAUSER:hunter2secret@bucket/p"}, false, []string{"AKIAUSER", "hunter2secret"}},
		{"dotdot", Options{URL: "s3://bucket/a/../b"}, false, nil},
		{"empty segment", Options{URL: "s3://bucket/a//b"}, false, nil},
		{"query", Options{URL: "s3://bucket/a?x=1"}, false, nil},
		{"endpoint userinfo", Options{URL: "s3://bucket", Endpoint: "http://AKIAUSER:hunter2secret@host:9000"}, false, []string{"AKIAUSER", "hunter2secret"}},
		{"endpoint scheme", Options{URL: "s3://bucket", Endpoint: "ftp://host"}, false, nil},
		{"endpoint bare", Options{URL: "s3://bucket", Endpoint: "127.0.0.1:7070"}, false, nil},
		{"attempts", Options{URL: "s3://bucket", MaxAttempts: -1}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			for _, h := range tc.hide {
				if strings.Contains(err.Error(), h) {
					t.Fatalf("error echoes a secret: %q", err)
				}
			}
		})
	}
}

// isolate points the AWS chain at dummy credentials and no config files.
func isolate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", "dvtestkey")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "dvtestsecret")
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func TestNewOffline(t *testing.T) {
	isolate(t)
	s := open(t, Options{URL: "s3://bucket/a/b/"})
	if got := s.String(); got != "s3://bucket/a/b" {
		t.Fatalf("String() = %q", got)
	}
	o := s.client.Options()
	if o.Region != defaultRegion || !o.DisableLogOutputChecksumValidationSkipped || o.UsePathStyle {
		t.Fatalf("region %q, checksum log %v, path style %v", o.Region, o.DisableLogOutputChecksumValidationSkipped, o.UsePathStyle)
	}
	if o.Retryer.MaxAttempts() != defaultMaxAttempts {
		t.Fatalf("max attempts %d", o.Retryer.MaxAttempts())
	}
	if k := s.key("packs/x"); k != "a/b/packs/x" {
		t.Fatalf("key = %q", k)
	}

	s = open(t, Options{URL: "s3://bucket", Endpoint: "http://127.0.0.1:7070", Region: "eu-west-1", PathStyle: true, MaxAttempts: 2})
	if got := s.String(); got != "s3://bucket at http://127.0.0.1:7070" {
		t.Fatalf("String() = %q", got)
	}
	o = s.client.Options()
	if o.Region != "eu-west-1" || !o.UsePathStyle || o.Retryer.MaxAttempts() != 2 {
		t.Fatalf("region %q, path style %v, attempts %d", o.Region, o.UsePathStyle, o.Retryer.MaxAttempts())
	}
	if k := s.key("packs/x"); k != "packs/x" {
		t.Fatalf("key = %q", k)
	}
}

func TestDefaultTransport(t *testing.T) {
	isolate(t)
	c := NewCounter(nil)
	open(t, Options{URL: "s3://bucket", Transport: c})
	tr, ok := c.Base.(*http.Transport)
	if !ok {
		t.Fatalf("a Counter without a Base got %T, want the Store's *http.Transport", c.Base)
	}
	if tr.MaxIdleConnsPerHost < 64 {
		t.Fatalf("MaxIdleConnsPerHost = %d, want 64 or more", tr.MaxIdleConnsPerHost)
	}
}
