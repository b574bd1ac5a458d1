// Package s3test is the S3 test support shared by dv's tests and its
// benchmark (cmd/dvbench): a raw SDK client for a test server, temporary
// buckets, and a counting, fault-injecting HTTP proxy on loopback. It is
// not used by dv itself.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// RandHex returns 2n random hex digits.
func RandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewClient is a raw SDK client for endpoint, path-style, with the AWS
// credential chain and the SDK's defaults except a transport sized for
// parallel transfers (as dv's). wrap, when set, wraps the transport (to
// count requests, say).
func NewClient(ctx context.Context, endpoint string, wrap func(http.RoundTripper) http.RoundTripper) (*awss3.Client, error) {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
	})
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if wrap != nil {
		cfg.HTTPClient = &http.Client{Transport: wrap(hc.GetTransport())}
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// CreateBucket makes a fresh bucket named name-<random> and returns its
// name.
func CreateBucket(ctx context.Context, c *awss3.Client, name string) (string, error) {
	bucket := strings.ToLower(name) + "-" + RandHex(5)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return "", fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return bucket, nil
}

// DeleteBucket empties bucket and deletes it.
func DeleteBucket(ctx context.Context, c *awss3.Client, bucket string) error {
	if err := DeletePrefix(ctx, c, bucket, ""); err != nil {
		return err
	}
	_, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return err
}

// DeletePrefix deletes every object of bucket below prefix, 1,000 at a
// time.
func DeletePrefix(ctx context.Context, c *awss3.Client, bucket, prefix string) error {
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	var errs []error
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		out, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return err
		}
		for _, e := range out.Errors {
			errs = append(errs, fmt.Errorf("delete %s: %s", aws.ToString(e.Key), aws.ToString(e.Message)))
		}
	}
	return errors.Join(errs...)
}
