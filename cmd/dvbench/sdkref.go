package main

// The raw-SDK references of P5 and P6 (PERF.md): one PutObject per file
// at 32 workers; one object uploaded in 16 MiB parts, 8 in flight; and
// downloaded with 8 parallel ranged GETs of 16 MiB.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

const (
	refWorkers   = 32       // P5: PUTs in flight
	refPartSize  = 16 << 20 // P6: part and range size
	refPartsConc = 8        // P6: parts or ranges in flight
)

// listFiles returns the regular files below dir, relative to it, with
// forward slashes.
func listFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	return out, err
}

// sdkPutFiles uploads every file (relative to dir) as its own object below
// prefix, refWorkers at a time; each worker reads its file, then PUTs it.
func sdkPutFiles(ctx context.Context, c *awss3.Client, bucket, prefix, dir string, files []string) error {
	g, ctx := errgroup.WithContext(ctx)
	next := make(chan string)
	g.Go(func() error {
		defer close(next)
		for _, f := range files {
			select {
			case next <- f:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range refWorkers {
		g.Go(func() error {
			for f := range next {
				data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
				if err != nil {
					return err
				}
				if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + f),
					Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
					return fmt.Errorf("put %s: %w", f, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// sdkUpload uploads the file at path as object key: a multipart upload of
// refPartSize parts, refPartsConc in flight, each part read from the file.
func sdkUpload(ctx context.Context, c *awss3.Client, bucket, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size < refPartSize {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: io.NewSectionReader(f, 0, size), ContentLength: aws.Int64(size)})
		return err
	}
	// CRC32, as the SDK's transfer manager (which dv uses) does by default.
	up, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		return err
	}
	nparts := int((size + refPartSize - 1) / refPartSize)
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(refPartsConc)
	for i := range nparts {
		g.Go(func() error {
			off := int64(i) * refPartSize
			n := min(refPartSize, size-off)
			out, err := c.UploadPart(gctx, &awss3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
				UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
				Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n)})
			if err != nil {
				return fmt.Errorf("part %d: %w", i+1, err)
			}
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1)),
				ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C,
				ChecksumCRC64NVME: out.ChecksumCRC64NVME, ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		_, _ = c.AbortMultipartUpload(context.WithoutCancel(ctx), &awss3.AbortMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId})
		return err
	}
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// sdkDownload writes object key (size bytes) to the file dst with
// refPartsConc parallel ranged GETs of refPartSize bytes.
func sdkDownload(ctx context.Context, c *awss3.Client, bucket, key string, size int64, dst string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(refPartsConc)
	for off := int64(0); off < size; off += refPartSize {
		g.Go(func() error {
			end := min(off+refPartSize, size) - 1
			out, err := c.GetObject(gctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
			if err != nil {
				return fmt.Errorf("get bytes %d-%d: %w", off, end, err)
			}
			defer out.Body.Close()
			buf := copyBufs.Get().(*[]byte)
			defer copyBufs.Put(buf)
			n, err := io.CopyBuffer(io.NewOffsetWriter(f, off), out.Body, *buf)
			if err == nil && n != end-off+1 {
				err = fmt.Errorf("get bytes %d-%d: %d bytes", off, end, n)
			}
			return err
		})
	}
	err = g.Wait()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// sameFile checks that two files hold the same bytes.
func sameFile(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); ; {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return fmt.Errorf("%s and %s differ near byte %d", a, b, off)
		}
		off += int64(na)
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			if eb == io.EOF || eb == io.ErrUnexpectedEOF {
				return nil
			}
			return fmt.Errorf("%s is longer than %s", b, a)
		}
		if ea != nil {
			return ea
		}
		if eb != nil {
			return eb
		}
	}
}
