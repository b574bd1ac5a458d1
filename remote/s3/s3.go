// Package s3 implements remote.Store on Amazon S3 and S3-compatible
// services (MinIO, Ceph, SeaweedFS, versitygw) with aws-sdk-go-v2.
//
// Blobs are ordinary objects named "<prefix>/<name>" in one bucket, so the
// AWS CLI can list, fetch and copy them. Credentials come only from the
// standard AWS chain (environment, shared config and credentials files,
// SSO, instance roles), never from the remote URL or dv's files, and never
// appear in messages. SDK errors are translated to remote's sentinels at
// this boundary; the SDK's standard retryer retries 5xx answers, throttling,
// timeouts and broken connections with backoff.
package s3

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dv-ml/dv/remote"
)

const (
	defaultRegion      = "us-east-1"
	defaultMaxAttempts = 5
	// Blobs of multipartThreshold bytes or more go up as a multipart upload
	// of partSize parts, partConcurrency in flight; smaller ones as one PUT.
	// A pack (closed at 32 MiB, so a little over) is one PUT: at 32 MiB a
	// push of W2 cost 5 requests per pack instead of 1.
	multipartThreshold = 64 << 20
	partSize           = 16 << 20
	partConcurrency    = 8
	// failTimeout bounds the abort of a failed multipart upload, which runs
	// even when the caller's context is cancelled.
	failTimeout = 30 * time.Second
)

var _ remote.Store = (*Store)(nil)

// Options configure an S3 remote. Only URL is required.
type Options struct {
	// URL is s3://bucket[/prefix]. It must not hold credentials.
	URL string
	// Endpoint is the base URL of an S3-compatible service, such as
	// http://127.0.0.1:7070. Empty: the SDK's AWS_ENDPOINT_URL_S3 or
	// AWS_ENDPOINT_URL, else AWS itself.
	Endpoint string
	// Region; empty: the AWS chain's (AWS_REGION, profile), else us-east-1.
	Region string
	// PathStyle addresses the bucket as endpoint/bucket instead of
	// bucket.endpoint; most self-hosted services need it.
	PathStyle bool
	// Transport, if set, carries every HTTP request instead of the default
	// transport. A *Counter whose Base is nil wraps the default one.
	Transport http.RoundTripper
	// MaxAttempts is the number of tries per request, the first included;
	// 0 means 5.
	MaxAttempts int
}

// Validate checks the options without touching the network.
func (o Options) Validate() error {
	if _, _, err := parseURL(o.URL); err != nil {
		return err
	}
	if o.Endpoint != "" {
		if err := checkEndpoint(o.Endpoint); err != nil {
			return err
		}
	}
	if o.MaxAttempts < 0 {
		return fmt.Errorf("s3 remote %s: max attempts is %d, want 1 or more (0 for the default)", o.URL, o.MaxAttempts)
	}
	return nil
}

// parseURL splits s3://bucket[/prefix]. Its errors never echo the URL,
// which might hold a secret.
func parseURL(raw string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", fmt.Errorf("s3 remote URL must look like s3://bucket[/prefix]")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if strings.Contains(bucket, "@") {
		return "", "", fmt.Errorf("s3 remote URL must not hold credentials: remove the user:password@ part and use the AWS credential chain (AWS_ACCESS_KEY_ID, AWS_PROFILE)")
	}
	if !validBucket(bucket) {
		return "", "", fmt.Errorf("s3 remote URL: bucket name %q is not valid (3-63 letters, digits, '.', '-' or '_')", bucket)
	}
	if strings.ContainsAny(prefix, "?#\\") {
		return "", "", fmt.Errorf("s3 remote URL: prefix %q may not contain '?', '#' or '\\'", prefix)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		for _, seg := range strings.Split(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return "", "", fmt.Errorf("s3 remote URL: prefix %q has an empty, '.' or '..' segment", prefix)
			}
		}
	}
	return bucket, prefix, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

func checkEndpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || u.User != nil || strings.Contains(e, "@") {
		// url.Parse's error quotes the input: never show it.
		return fmt.Errorf("s3 endpoint must be a plain http(s)://host[:port] URL without credentials")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("s3 endpoint %q must look like http(s)://host[:port]", e)
	}
	return nil
}

// Store is an S3 bucket (or a prefix in one) as a remote.Store. It is safe
// for concurrent use.
type Store struct {
	client   *awss3.Client
	tm       *transfermanager.Client
	rt       http.RoundTripper
	bucket   string
	prefix   string // without slashes at either end; may be empty
	endpoint string // for messages; empty for AWS
	// bucketOK records that the bucket answered once, so a bodiless 404
	// from HeadObject need not be told apart from a missing bucket again.
	bucketOK atomic.Bool
}

// New opens the remote described by o. It loads the AWS configuration and
// credentials chain but sends no request.
func New(ctx context.Context, o Options) (*Store, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	bucket, prefix, _ := parseURL(o.URL)
	attempts := o.MaxAttempts
	if attempts == 0 {
		attempts = defaultMaxAttempts
	}
	loads := []func(*config.LoadOptions) error{
		// A BuildableClient, so that the SDK can add AWS_CA_BUNDLE's roots.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(tune)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				// The retry token bucket fails whole pushes once many
				// parallel requests have failed; backoff is enough here.
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("s3 remote s3://%s: load the AWS configuration: %w", bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	rt := o.Transport
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		switch c := rt.(type) {
		case nil:
			rt = b.GetTransport()
		case *Counter:
			c.defaultBase(b.GetTransport())
		}
	}
	if rt == nil {
		return nil, fmt.Errorf("s3 remote s3://%s: the AWS configuration replaced the HTTP client", bucket)
	}
	cfg.HTTPClient = &http.Client{
		Transport: rt,
		// S3 signals a wrong region with a 301 that has no Location: never
		// follow redirects, let the SDK see the answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	client := awss3.NewFromConfig(cfg, func(so *awss3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		so.DisableLogOutputChecksumValidationSkipped = true
	})
	tm := transfermanager.New(client, func(to *transfermanager.Options) {
		to.PartSizeBytes = partSize
		to.Concurrency = partConcurrency
		to.MultipartUploadThreshold = multipartThreshold
		to.FailTimeout = failTimeout
	})
	return &Store{
		client:   client,
		tm:       tm,
		rt:       rt,
		bucket:   bucket,
		prefix:   prefix,
		endpoint: redactEndpoint(aws.ToString(client.Options().BaseEndpoint)),
	}, nil
}

// redactEndpoint drops any userinfo an endpoint from the environment has.
func redactEndpoint(e string) string {
	if e == "" {
		return ""
	}
	u, err := url.Parse(e)
	if err != nil {
		return "(unparsable endpoint)"
	}
	u.User = nil
	return u.String()
}

// String returns s3://bucket/prefix, plus the endpoint when one is set.
func (s *Store) String() string {
	u := "s3://" + s.bucket
	if s.prefix != "" {
		u += "/" + s.prefix
	}
	if s.endpoint != "" {
		u += " at " + s.endpoint
	}
	return u
}

// Close releases idle connections. The Store must not be used afterwards.
func (s *Store) Close() error {
	if c, ok := s.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

// key maps a blob name to its object key.
func (s *Store) key(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

// objectURL names an object in messages.
func (s *Store) objectURL(key string) string {
	return "s3://" + s.bucket + "/" + key
}
