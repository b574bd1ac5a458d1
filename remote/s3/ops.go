package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/dv-ml/dv/remote"
)

// Put stores size bytes from r under name: one PutObject below 32 MiB, a
// multipart upload of 16 MiB parts (8 in flight) above. Both are atomic on
// S3: the object appears whole when the upload completes, or not at all. A
// reader holding more or fewer than size bytes is an error.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	key := s.key(name)
	if err := checkName(name); err != nil {
		return fmt.Errorf("s3 put %s: %w", s.objectURL(key), err)
	}
	if size < 0 {
		return fmt.Errorf("s3 put %s: negative size %d", s.objectURL(key), size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3 put %s: %w", s.objectURL(key), err)
	}
	if size >= multipartThreshold {
		_, err := s.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(key),
			Body:          &exactReader{r: r, left: size},
			ContentLength: aws.Int64(size),
		})
		return s.fail("put", key, err)
	}
	body, err := exactBody(r, size)
	if err != nil {
		return fmt.Errorf("s3 put %s: %w", s.objectURL(key), err)
	}
	_, err = s.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          body,
		ContentLength: aws.Int64(size),
	})
	return s.fail("put", key, err)
}

// Get returns length bytes at off (length < 0: to the end) with one
// ranged GetObject. A body shorter than asked for is an error.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	key := s.key(name)
	if off < 0 {
		return nil, fmt.Errorf("s3 get %s: negative offset %d", s.objectURL(key), off)
	}
	if length == 0 {
		if _, err := s.Stat(ctx, name); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if off > 0 || length > 0 {
		rng := "bytes=" + strconv.FormatInt(off, 10) + "-"
		if length > 0 {
			rng += strconv.FormatInt(off+length-1, 10)
		}
		in.Range = aws.String(rng)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	s.bucketOK.Store(true)
	if in.Range != nil {
		if start, ok := rangeStart(aws.ToString(out.ContentRange)); !ok || start != off {
			out.Body.Close()
			return nil, fmt.Errorf("s3 get %s: the server ignored the byte range %s (Content-Range %q)",
				s.objectURL(key), *in.Range, aws.ToString(out.ContentRange))
		}
	}
	want := length
	if length < 0 {
		want = aws.ToInt64(out.ContentLength)
		if out.ContentLength == nil {
			want = -1
		}
	} else if out.ContentLength != nil && *out.ContentLength < length {
		out.Body.Close()
		return nil, fmt.Errorf("s3 get %s: range [%d+%d] returned %d bytes: %w",
			s.objectURL(key), off, length, *out.ContentLength, io.ErrUnexpectedEOF)
	}
	return &body{rc: out.Body, left: want, url: s.objectURL(key)}, nil
}

// rangeStart parses the first byte of "bytes start-end/total".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil
}

// Stat returns the blob's size, ETag and time with one HeadObject.
func (s *Store) Stat(ctx context.Context, name string) (remote.Info, error) {
	key := s.key(name)
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		err = s.fail("stat", key, err)
		if errors.Is(err, remote.ErrNotFound) {
			err = s.checkBucket(ctx, key, err)
		}
		return remote.Info{}, err
	}
	s.bucketOK.Store(true)
	return remote.Info{
		Name:    name,
		Size:    aws.ToInt64(out.ContentLength),
		ETag:    aws.ToString(out.ETag),
		ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// checkBucket tells a missing object from a missing bucket or refused
// credentials after a HEAD, whose 404 has no body to say which (versitygw
// answers an unknown access key with a 404 too). It asks once per Store,
// with a one-key listing, whose errors have a body.
func (s *Store) checkBucket(ctx context.Context, key string, notFound error) error {
	if s.bucketOK.Load() {
		return notFound
	}
	_, err := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(key), MaxKeys: aws.Int32(1),
	})
	if err == nil {
		s.bucketOK.Store(true)
		return notFound
	}
	var e *Error
	if !errors.As(notFound, &e) {
		return notFound
	}
	switch kind, code := classify(err); {
	case kind == remote.ErrNoBucket, kind == remote.ErrNotFound:
		e.Kind, e.Detail = remote.ErrNoBucket, "NoSuchBucket"
	case kind == remote.ErrAuth && code != "AccessDenied" && !strings.HasPrefix(code, "HTTP"):
		// Bad credentials; a mere lack of s3:ListBucket leaves the 404.
		e.Kind, e.Detail = remote.ErrAuth, code
	}
	return notFound
}

// List calls fn for each blob under prefix, a page of up to 1,000 at a
// time from ListObjectsV2, on the calling goroutine.
func (s *Store) List(ctx context.Context, prefix string, fn func(remote.Info) error) error {
	keyPrefix := s.key(prefix)
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(keyPrefix),
	})
	strip := ""
	if s.prefix != "" {
		strip = s.prefix + "/"
	}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list", keyPrefix, err)
		}
		s.bucketOK.Store(true)
		for _, obj := range page.Contents {
			err := fn(remote.Info{
				Name:    strings.TrimPrefix(aws.ToString(obj.Key), strip),
				Size:    aws.ToInt64(obj.Size),
				ETag:    aws.ToString(obj.ETag),
				ModTime: aws.ToTime(obj.LastModified),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes a blob; a missing one is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	key := s.key(name)
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err = s.fail("delete", key, err); errors.Is(err, remote.ErrNotFound) {
		return nil
	}
	return err
}

// PutIf writes data under name with a conditional PutObject: If-None-Match
// "*" to create, If-Match ifMatch to replace. S3 checks the condition and
// writes in one step, so two writers from the same ETag cannot both win.
func (s *Store) PutIf(ctx context.Context, name string, data []byte, ifMatch string) (string, error) {
	key := s.key(name)
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("s3 put-if %s: %w", s.objectURL(key), err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("s3 put-if %s: %w", s.objectURL(key), err)
	}
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	var tries atomic.Int32
	out, err := s.client.PutObject(ctx, in, countAttempts(&tries))
	if err == nil {
		s.bucketOK.Store(true)
		return aws.ToString(out.ETag), nil
	}
	err = s.fail("put-if", key, err)
	var e *Error
	if ifMatch != "" && errors.Is(err, remote.ErrNotFound) && errors.As(err, &e) {
		e.Kind, e.Detail = remote.ErrPrecondition, "the blob was deleted"
	}
	if errors.Is(err, remote.ErrPrecondition) && tries.Load() > 1 {
		// An earlier try may have been applied with its answer lost, and
		// the retry then lost to our own write: the blob holds our data.
		if etag, ok := s.holds(ctx, key, data); ok {
			return etag, nil
		}
	}
	return "", err
}

// holds reports whether key holds exactly data, with its ETag.
func (s *Store) holds(ctx context.Context, key string, data []byte) (string, bool) {
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return "", false
	}
	defer out.Body.Close()
	got, err := io.ReadAll(io.LimitReader(out.Body, int64(len(data))+1))
	if err != nil || !bytes.Equal(got, data) {
		return "", false
	}
	return aws.ToString(out.ETag), true
}

// countAttempts counts the HTTP attempts of one operation: it sits after
// the retry middleware, which calls it once per try.
func countAttempts(n *atomic.Int32) func(*awss3.Options) {
	return func(o *awss3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("dvCountAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
					middleware.FinalizeOutput, middleware.Metadata, error,
				) {
					n.Add(1)
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
}

func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("invalid blob name %q", name)
	}
	return nil
}
