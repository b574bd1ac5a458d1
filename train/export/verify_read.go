package export

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/klauspost/compress/zstd"
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// openFunc opens one file of a bundle for reading; VerifyBundle uses
// os.Open, tests a function that fails as a disk can.
type openFunc func(name string) (io.ReadCloser, error)

func osOpen(name string) (io.ReadCloser, error) { return os.Open(name) }

// readFile reads the file name whole with open.
func readFile(open openFunc, name string) ([]byte, error) {
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, ioErr(name, err)
	}
	return b, nil
}

// ioErr names the file name in err, an error reading it, unless err
// already names a file: reading failed, the bundle may be intact, so
// it is a plain error and never a problem with the bundle.
func ioErr(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// readTrap remembers the first error, other than io.EOF, that reading
// the file itself gave: when the tar or zstd reader fails after one, the
// disk failed, not the bundle's bytes.
type readTrap struct {
	r   io.Reader
	err error
}

func (t *readTrap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// readTar reads a tar or .tar.zst bundle, hashing every file. A
// truncated or garbled tar is a problem; a failed read of the file an
// error.
func readTar(ctx context.Context, name string, open openFunc) (*contents, error) {
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	trap := &readTrap{r: f}
	br := bufio.NewReaderSize(trap, 1<<20)
	c := &contents{format: FormatTar, files: map[string]*seenFile{}, dirs: map[string]bool{}, keepsDirs: true}
	// damaged records err (met at entry p) as a problem when the bytes
	// are at fault, and returns the error when reading them failed.
	damaged := func(p, what string, err error) (*contents, error) {
		switch {
		case trap.err != nil:
			return nil, ioErr(name, trap.err)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		c.problem(p, "%s: %v", what, err)
		return c, nil
	}
	var r io.Reader = br
	if magic, _ := br.Peek(4); bytes.Equal(magic, zstdMagic) {
		dec, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(128<<20))
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		r = dec
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return damaged(name, "not a readable tar", err)
		}
		p := strings.TrimSuffix(h.Name, "/")
		switch {
		case p == ManifestName && h.Typeflag == tar.TypeReg:
			if c.manifest, err = readManifestFrom(tr); err != nil {
				return damaged(ManifestName, "cannot be read", err)
			}
		case h.Typeflag == tar.TypeDir && (p == ModelDir || checkBundlePath(p) == nil):
			c.dirs[p] = true
		case h.Typeflag == tar.TypeReg && checkBundlePath(p) == nil:
			s, err := hashStream(ctx, tr)
			if err != nil {
				return damaged(p, "cannot be read", err)
			}
			exec := h.Mode&0o111 != 0
			s.exec = &exec
			c.files[p] = s
		default:
			c.problem(h.Name, "unexpected entry (type %q) in a dv bundle", h.Typeflag)
		}
	}
	if len(c.files) == 0 && c.manifest == nil && len(c.dirs) == 0 {
		return nil, fmt.Errorf("%s: not a dv bundle (an empty tar, or not a tar)", name)
	}
	return c, nil
}

// readOCI reads an OCI image layout: every blob is checked against its
// digest, the tagged ModelPack manifest's layers are hashed as files. A
// missing or damaged blob is a problem, a failed read an error.
func readOCI(ctx context.Context, dir string, open openFunc) (*contents, error) {
	r := &ociReader{
		dir:     dir,
		open:    open,
		c:       &contents{format: FormatOCI, files: map[string]*seenFile{}, dirs: map[string]bool{}},
		checked: map[string]bool{},
	}
	ib, err := readFile(open, filepath.Join(dir, ocispec.ImageIndexFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.c.problem(ocispec.ImageIndexFile, "missing")
		return r.c, nil
	case err != nil:
		return nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(ib, &idx); err != nil {
		r.c.problem(ocispec.ImageIndexFile, "%v", err)
		return r.c, nil
	}
	man, err := r.modelManifest(&idx)
	if err != nil {
		return nil, err
	}
	if man == nil {
		if len(r.c.problems) == 0 {
			r.c.problem(ocispec.ImageIndexFile, "names no ModelPack manifest (artifactType %s)", ArtifactTypeModelManifest)
		}
		return r.c, nil
	}
	if err := r.hashLayers(ctx, man); err != nil {
		return nil, err
	}
	if err := r.checkOtherBlobs(); err != nil {
		return nil, err
	}
	return r.c, nil
}

// ociReader reads one OCI image layout into c, remembering the blobs it
// has checked so that checkOtherBlobs checks each of the rest once.
type ociReader struct {
	dir     string
	open    openFunc
	c       *contents
	checked map[string]bool // blob paths relative to dir, slash-separated
}

// blobPath is the path of the blob with digest d, relative to the layout.
func blobPath(d digest.Digest) string {
	return path.Join("blobs", d.Algorithm().String(), d.Encoded())
}

// readBlob reads the small blob d (a manifest, the config, dv's
// manifest) whole, checking its size and digest; nil after a problem,
// an error when reading it failed.
func (r *ociReader) readBlob(d ocispec.Descriptor, what string) ([]byte, error) {
	rel := blobPath(d.Digest)
	if d.Digest.Validate() != nil {
		r.c.problem(what, "bad digest %q", d.Digest)
		return nil, nil
	}
	if d.Size < 0 || d.Size > maxManifest {
		r.c.problem(rel, "%s: %d bytes, more than dv reads for one", what, d.Size)
		return nil, nil
	}
	b, err := readFile(r.open, filepath.Join(r.dir, filepath.FromSlash(rel)))
	r.checked[rel] = true
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.c.problem(rel, "%s: missing", what)
		return nil, nil
	case err != nil:
		return nil, err
	case int64(len(b)) != d.Size:
		r.c.problem(rel, "%s: %d bytes, its descriptor says %d", what, len(b), d.Size)
		return nil, nil
	case digest.FromBytes(b) != d.Digest:
		r.c.problem(rel, "%s: content does not match its digest", what)
		return nil, nil
	}
	return b, nil
}

// modelManifest reads every manifest the index names and returns the
// first ModelPack one, or nil.
func (r *ociReader) modelManifest(idx *ocispec.Index) (*ocispec.Manifest, error) {
	var man *ocispec.Manifest
	for _, d := range idx.Manifests {
		mb, err := r.readBlob(d, "manifest "+d.Annotations[ocispec.AnnotationRefName])
		if err != nil {
			return nil, err
		}
		if mb == nil {
			continue
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(mb, &m); err != nil {
			r.c.problem(ocispec.ImageIndexFile, "manifest %s: %v", d.Digest, err)
			continue
		}
		if m.ArtifactType == ArtifactTypeModelManifest && man == nil {
			man = &m
		}
	}
	return man, nil
}

// hashLayers reads man's config and hashes each layer as the file its
// filepath annotation names (dv's manifest layer is read whole).
func (r *ociReader) hashLayers(ctx context.Context, man *ocispec.Manifest) error {
	var cfg modelConfig
	cb, err := r.readBlob(man.Config, "config")
	if err != nil {
		return err
	}
	if cb != nil {
		if err := json.Unmarshal(cb, &cfg); err != nil {
			r.c.problem("config", "%v", err)
		}
	}
	for i, l := range man.Layers {
		if err := r.hashLayer(ctx, i, l, cfg.ModelFS.DiffIDs); err != nil {
			return err
		}
	}
	return nil
}

// hashLayer checks layer i against the config's diffIDs and hashes it;
// a missing or damaged layer is a problem, only a failed read an error.
func (r *ociReader) hashLayer(ctx context.Context, i int, l ocispec.Descriptor, diffIDs []digest.Digest) error {
	fp := l.Annotations[AnnotationFilepath]
	rel := blobPath(l.Digest)
	if i >= len(diffIDs) || diffIDs[i] != l.Digest {
		r.c.problem(rel, "layer %d (%s) is not the config's diffIds[%d]", i, fp, i)
	}
	if fp == ManifestName {
		b, err := r.readBlob(l, ManifestName)
		if b != nil {
			r.c.manifest = b
		}
		return err
	}
	if checkBundlePath(fp) != nil {
		r.c.problem(rel, "layer %d: bad %s %q", i, AnnotationFilepath, fp)
		return nil
	}
	if l.Digest.Validate() != nil || l.Digest.Algorithm() != digest.SHA256 {
		r.c.problem(rel, "layer %s: bad digest", fp)
		return nil
	}
	r.checked[rel] = true
	name := filepath.Join(r.dir, filepath.FromSlash(rel))
	f, err := r.open(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.c.problem(rel, "layer %s: missing", fp)
		return nil
	case err != nil:
		return err
	}
	s, err := hashStream(ctx, bufio.NewReaderSize(f, 1<<20))
	f.Close()
	if err != nil {
		return ioErr(name, err)
	}
	if s.sha256 != l.Digest.Encoded() || s.size != l.Size {
		r.c.problem(rel, "layer %s: content does not match its digest", fp)
	}
	r.c.files[fp] = s
	return nil
}

// checkOtherBlobs verifies every blob not read yet: a layout must hold
// no damaged blob.
func (r *ociReader) checkOtherBlobs() error {
	err := filepath.WalkDir(filepath.Join(r.dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(r.dir, p)
		rel = filepath.ToSlash(rel)
		if r.checked[rel] {
			return nil
		}
		return r.checkBlob(p, rel)
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// checkBlob verifies the blob file p (rel in the layout) against the
// digest its name gives.
func (r *ociReader) checkBlob(p, rel string) error {
	dg := digest.Digest(path.Base(path.Dir(rel)) + ":" + path.Base(rel))
	if dg.Validate() != nil {
		r.c.problem(rel, "not a blob name")
		return nil
	}
	f, err := r.open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	v := dg.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return ioErr(p, err)
	}
	if !v.Verified() {
		r.c.problem(rel, "content does not match its digest")
	}
	return nil
}
