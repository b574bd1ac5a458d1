package export

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/dv-ml/dv/objects"
)

// tarHeader builds a header by hand: no user or group names, uid and gid
// 0, whole-second mtime, no access or change time and no format forced, so
// archive/tar writes plain USTAR (PAX only for a path too long for it).
func tarHeader(name string, typ byte, mode int64, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: size, ModTime: mtime.Truncate(time.Second)}
}

// tarEntry is one entry of the bundle, in path order.
type tarEntry struct {
	path string
	file int // index in plan.files, or -1 for a directory, -2 for the manifest
}

// entries returns every entry of the bundle sorted by path: the manifest,
// model/ and each directory below it, and the files.
func (p *plan) entries() []tarEntry {
	dirs := map[string]bool{ModelDir: true}
	addParents := func(rel string) {
		for d := path.Dir(rel); d != "." && d != ModelDir; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	out := []tarEntry{{path: ManifestName, file: -2}}
	for i, f := range p.files {
		addParents(f.Path)
		out = append(out, tarEntry{path: f.Path, file: i})
	}
	for _, d := range p.m.Dirs {
		dirs[d] = true
		addParents(d)
	}
	for d := range dirs {
		out = append(out, tarEntry{path: d, file: -1})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// placeholderManifest returns the manifest with every digest set to zeros:
// the same length as the final one, so the tar can hold it first (it
// sorts first) and have it rewritten in place once the files are hashed.
func (p *plan) manifestBytes(final bool) ([]byte, error) {
	m := *p.m
	m.Files = make([]File, len(p.files))
	for i, f := range p.files {
		m.Files[i] = f.File
		if !final {
			m.Files[i].SHA256 = strings.Repeat("0", 64)
			m.Files[i].BLAKE3 = strings.Repeat("0", 64)
		}
	}
	return m.Encode()
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeTar writes the bundle as a tar file at dst; with zst, the tar goes
// through zstd (level default, one goroutine: the same bytes on any
// machine) after it is complete.
func (p *plan) writeTar(ctx context.Context, s *objects.Store, dst string, zst bool) error {
	name := dst
	if zst {
		name = dst + ".tar"
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := p.tarTo(ctx, s, f); err != nil {
		return err
	}
	if !zst {
		return f.Close()
	}
	defer os.Remove(name)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := compressZstd(ctx, out, f); err != nil {
		return err
	}
	return out.Close()
}

// compressZstd compresses src into dst deterministically.
func compressZstd(ctx context.Context, dst io.Writer, src io.Reader) error {
	enc, err := zstd.NewWriter(dst, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true))
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			enc.Close()
			return err
		}
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := enc.Write(buf[:n]); err != nil {
				enc.Close()
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			enc.Close()
			return rerr
		}
	}
	return enc.Close()
}

// tarTo writes the tar to f: entries in path order, the manifest first
// with zero digests, rewritten in place at the end.
func (p *plan) tarTo(ctx context.Context, s *objects.Store, f *os.File) error {
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: bw}
	tw := tar.NewWriter(cw)
	placeholder, err := p.manifestBytes(false)
	if err != nil {
		return err
	}
	var manifestAt int64 = -1
	for _, e := range p.entries() {
		switch e.file {
		case -2:
			if err := tw.WriteHeader(tarHeader(e.path, tar.TypeReg, 0o644, int64(len(placeholder)), p.epoch)); err != nil {
				return err
			}
			manifestAt = cw.n
			if _, err := tw.Write(placeholder); err != nil {
				return err
			}
		case -1:
			if err := tw.WriteHeader(tarHeader(e.path+"/", tar.TypeDir, 0o755, 0, p.epoch)); err != nil {
				return err
			}
		default:
			pf := &p.files[e.file]
			mode := int64(0o644)
			if pf.Exec() {
				mode = 0o755
			}
			if err := tw.WriteHeader(tarHeader(e.path, tar.TypeReg, mode, pf.Size, p.epoch)); err != nil {
				return err
			}
			if err := streamFile(ctx, s, pf, tw); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	final, err := p.manifestBytes(true)
	if err != nil {
		return err
	}
	if len(final) != len(placeholder) {
		return fmt.Errorf("manifest changed length (%d, then %d bytes)", len(placeholder), len(final))
	}
	_, err = f.WriteAt(final, manifestAt)
	return err
}
