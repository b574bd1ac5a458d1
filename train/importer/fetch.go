package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"time"
)

var errRemoteFile = errors.New("file:// URLs must name a local file (file:///path)")

// fetched is what a fetch learnt about the source.
type fetched struct {
	ETag        string
	VersionID   string
	NotModified bool // the source still has etag: nothing was written
	Bytes       int64
}

// fetcher copies a source to w. With etag set, it may report the source
// unchanged instead (NotModified) and write nothing.
type fetcher func(ctx context.Context, raw, etag string, w io.Writer) (fetched, error)

// fetchFile copies a local file.
func fetchFile(ctx context.Context, raw, _ string, w io.Writer) (fetched, error) {
	p, err := localPath(raw)
	if err != nil {
		return fetched{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fetched{}, fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fetched{}, err
	}
	if fi.IsDir() {
		return fetched{}, fmt.Errorf("%s: is a directory; dv import fetches one file (dv add tracks directories)", p)
	}
	n, err := io.Copy(w, ctxReader{ctx, f})
	return fetched{Bytes: n}, err
}

// ctxReader stops a copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// defaultClient bounds the wait for an answer, not the download.
var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	ResponseHeaderTimeout: 60 * time.Second,
	TLSHandshakeTimeout:   30 * time.Second,
	IdleConnTimeout:       90 * time.Second,
}}

// httpFetcher GETs a URL, sending If-None-Match with the etag; a 304
// answer is NotModified.
func httpFetcher(client *http.Client) fetcher {
	if client == nil {
		client = defaultClient
	}
	return func(ctx context.Context, raw, etag string, w io.Writer) (fetched, error) {
		shown := Redact(raw)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return fetched{}, fmt.Errorf("GET %s: not a valid URL", shown)
		}
		req.Header.Set("User-Agent", "dv")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its text repeats the URL, maybe with a signature
			}
			return fetched{}, fmt.Errorf("GET %s: %w", shown, err)
		}
		defer resp.Body.Close()
		f := fetched{ETag: resp.Header.Get("ETag"), VersionID: resp.Header.Get("x-amz-version-id")}
		switch {
		case resp.StatusCode == http.StatusNotModified && etag != "":
			f.NotModified = true
			if f.ETag == "" {
				f.ETag = etag
			}
			return f, nil
		case resp.StatusCode != http.StatusOK:
			return fetched{}, fmt.Errorf("GET %s: HTTP %s", shown, resp.Status)
		}
		n, err := io.Copy(w, resp.Body)
		if err != nil {
			return fetched{}, fmt.Errorf("GET %s: %w", shown, err)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fetched{}, fmt.Errorf("GET %s: got %d of %d bytes: %w", shown, n, resp.ContentLength, io.ErrUnexpectedEOF)
		}
		f.Bytes = n
		return f, nil
	}
}
