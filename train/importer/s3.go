package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Options configure access to s3:// sources. Credentials come only from
// the AWS chain (environment, shared files, SSO, instance roles).
type S3Options struct {
	// Endpoint of an S3-compatible service; empty: the SDK's
	// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS.
	Endpoint string
	Region   string // empty: the AWS chain's, else us-east-1
	// PathStyle addresses buckets as endpoint/bucket. It is implied when
	// an endpoint is set here or in the environment.
	PathStyle bool
}

// splitS3 parses s3://bucket/key.
func splitS3(raw string) (bucket, key string, err error) {
	rest, _ := strings.CutPrefix(raw, "s3://")
	bucket, key, _ = strings.Cut(rest, "/")
	// A bucket name is letters, digits, '.', '-' and '_' (legacy names):
	// anything else, such as the ':' of s3://KEY:se/cret@bucket/key (whose
	// '/' puts the '@' in the key), is a URL carrying credentials.
	if bucket == "" || strings.IndexFunc(bucket, notBucketRune) >= 0 {
		return "", "", errors.New("S3 URLs look like s3://bucket/key, without credentials")
	}
	if key == "" || strings.HasSuffix(key, "/") {
		return "", "", fmt.Errorf("s3://%s/%s: name one object; dv import fetches a single file", bucket, key)
	}
	return bucket, key, nil
}

func notBucketRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
}

// s3Fetcher fetches s3://bucket/key. With an etag it first asks
// HeadObject and reports NotModified when the ETag is the same.
func s3Fetcher(o S3Options) fetcher {
	return func(ctx context.Context, raw, etag string, w io.Writer) (fetched, error) {
		bucket, key, err := splitS3(raw)
		if err != nil {
			return fetched{}, err
		}
		client, err := newS3Client(ctx, o)
		if err != nil {
			return fetched{}, err
		}
		shown := "s3://" + bucket + "/" + key
		if etag != "" {
			head, err := client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &bucket, Key: &key})
			if err != nil {
				return fetched{}, fmt.Errorf("head %s: %w", shown, err)
			}
			if aws.ToString(head.ETag) == etag {
				return fetched{ETag: etag, VersionID: aws.ToString(head.VersionId), NotModified: true}, nil
			}
		}
		out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return fetched{}, fmt.Errorf("get %s: %w", shown, err)
		}
		defer out.Body.Close()
		n, err := io.Copy(w, out.Body)
		if err != nil {
			return fetched{}, fmt.Errorf("get %s: %w", shown, err)
		}
		if out.ContentLength != nil && n != *out.ContentLength {
			return fetched{}, fmt.Errorf("get %s: got %d of %d bytes: %w", shown, n, *out.ContentLength, io.ErrUnexpectedEOF)
		}
		return fetched{ETag: aws.ToString(out.ETag), VersionID: aws.ToString(out.VersionId), Bytes: n}, nil
	}
}

func newS3Client(ctx context.Context, o S3Options) (*awss3.Client, error) {
	var loads []func(*config.LoadOptions) error
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := o.PathStyle || o.Endpoint != "" ||
		os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return awss3.NewFromConfig(cfg, func(so *awss3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = pathStyle
		so.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}
