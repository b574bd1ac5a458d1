package importer

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestImportS3 runs against the S3-compatible server that
// .ci/s3-server.sh starts (versitygw), when DV_S3_ENDPOINT is set.
func TestImportS3(t *testing.T) {
	ep := os.Getenv("DV_S3_ENDPOINT")
	if ep == "" {
		if os.Getenv("DV_REQUIRE_S3") != "" {
			t.Fatal("DV_REQUIRE_S3 is set but DV_S3_ENDPOINT is not: start versitygw with `source .ci/s3-server.sh`")
		}
		t.Skip("DV_S3_ENDPOINT is not set: run `source .ci/s3-server.sh` first to test against versitygw")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := t.Context()
	o := S3Options{Endpoint: ep}
	client, err := newS3Client(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	bucket := "dv-import-" + hex.EncodeToString(b[:])
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	key := "raw/data.csv"
	put := func(body string) {
		t.Helper()
		if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = client.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(key)})
		_, _ = client.DeleteBucket(t.Context(), &awss3.DeleteBucketInput{Bucket: &bucket})
	})
	put("a\n1\n")
	r, rc := newRepo(t)
	url := "s3://" + bucket + "/" + key
	res, err := Import(ctx, r, rc, Options{URL: url, Path: "data.csv", S3: o})
	if err != nil {
		t.Fatal(err)
	}
	if res.ETag == "" || res.Source != url || res.Bytes != 4 {
		t.Fatalf("import %+v", res)
	}
	up, err := Import(ctx, r, rc, Options{Path: "data.csv", Update: true, S3: o})
	if err != nil || !up.UpToDate {
		t.Fatalf("unchanged object: %+v %v", up, err)
	}
	put("a\n1\n2\n")
	up, err = Import(ctx, r, rc, Options{Path: "data.csv", Update: true, S3: o})
	if err != nil || up.UpToDate || up.ETag == res.ETag || up.Bytes != 6 {
		t.Fatalf("changed object: %+v %v", up, err)
	}
	if _, err := Import(ctx, r, rc, Options{URL: "s3://" + bucket + "/missing", Path: "m", S3: o}); err == nil {
		t.Fatal("a missing object imported")
	}
}
