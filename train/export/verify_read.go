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
	"os"
	"path"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/klauspost/compress/zstd"
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// readTar reads a tar or .tar.zst bundle, hashing every file.
func readTar(ctx context.Context, name string) (*contents, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	c := &contents{format: FormatTar, files: map[string]*seenFile{}, dirs: map[string]bool{}}
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
			c.problem(name, "not a readable tar: %v", err)
			return c, nil
		}
		p := strings.TrimSuffix(h.Name, "/")
		switch {
		case p == ManifestName && h.Typeflag == tar.TypeReg:
			if c.manifest, err = readManifestFrom(tr); err != nil {
				return nil, err
			}
		case h.Typeflag == tar.TypeDir && (p == ModelDir || checkBundlePath(p) == nil):
			c.dirs[p] = true
		case h.Typeflag == tar.TypeReg && checkBundlePath(p) == nil:
			s, err := hashStream(ctx, tr)
			if err != nil {
				c.problem(p, "cannot be read: %v", err)
				return c, nil
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
// digest, the tagged ModelPack manifest's layers are hashed as files.
func readOCI(ctx context.Context, dir string) (*contents, error) { //nolint:funlen // over the limit when the lint arrived (issue 12); to split
	c := &contents{format: FormatOCI, files: map[string]*seenFile{}, dirs: map[string]bool{}}
	blobs := filepath.Join(dir, "blobs")
	checked := map[string]bool{}
	readBlob := func(d ocispec.Descriptor, what string) []byte {
		rel := path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
		if d.Digest.Validate() != nil {
			c.problem(what, "bad digest %q", d.Digest)
			return nil
		}
		if d.Size < 0 || d.Size > maxManifest {
			c.problem(rel, "%s: %d bytes, more than dv reads for one", what, d.Size)
			return nil
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		checked[rel] = true
		switch {
		case err != nil:
			c.problem(rel, "%s: %v", what, err)
			return nil
		case int64(len(b)) != d.Size:
			c.problem(rel, "%s: %d bytes, its descriptor says %d", what, len(b), d.Size)
			return nil
		case digest.FromBytes(b) != d.Digest:
			c.problem(rel, "%s: content does not match its digest", what)
			return nil
		}
		return b
	}
	ib, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(ib, &idx); err != nil {
		c.problem(ocispec.ImageIndexFile, "%v", err)
		return c, nil
	}
	var man *ocispec.Manifest
	for _, d := range idx.Manifests {
		mb := readBlob(d, "manifest "+d.Annotations[ocispec.AnnotationRefName])
		if mb == nil {
			continue
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(mb, &m); err != nil {
			c.problem(ocispec.ImageIndexFile, "manifest %s: %v", d.Digest, err)
			continue
		}
		if m.ArtifactType == ArtifactTypeModelManifest && man == nil {
			man = &m
		}
	}
	if man == nil {
		if len(c.problems) == 0 {
			c.problem(ocispec.ImageIndexFile, "names no ModelPack manifest (artifactType %s)", ArtifactTypeModelManifest)
		}
		return c, nil
	}
	var cfg modelConfig
	if cb := readBlob(man.Config, "config"); cb != nil {
		if err := json.Unmarshal(cb, &cfg); err != nil {
			c.problem("config", "%v", err)
		}
	}
	for i, l := range man.Layers {
		fp := l.Annotations[AnnotationFilepath]
		rel := path.Join("blobs", l.Digest.Algorithm().String(), l.Digest.Encoded())
		if i >= len(cfg.ModelFS.DiffIDs) || cfg.ModelFS.DiffIDs[i] != l.Digest {
			c.problem(rel, "layer %d (%s) is not the config's diffIds[%d]", i, fp, i)
		}
		if fp == ManifestName {
			if b := readBlob(l, ManifestName); b != nil {
				c.manifest = b
			}
			continue
		}
		if checkBundlePath(fp) != nil {
			c.problem(rel, "layer %d: bad %s %q", i, AnnotationFilepath, fp)
			continue
		}
		if l.Digest.Validate() != nil || l.Digest.Algorithm() != digest.SHA256 {
			c.problem(rel, "layer %s: bad digest", fp)
			continue
		}
		checked[rel] = true
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			c.problem(rel, "layer %s: %v", fp, err)
			continue
		}
		s, err := hashStream(ctx, bufio.NewReaderSize(f, 1<<20))
		f.Close()
		if err != nil {
			return nil, err
		}
		if s.sha256 != l.Digest.Encoded() || s.size != l.Size {
			c.problem(rel, "layer %s: content does not match its digest", fp)
		}
		c.files[fp] = s
	}
	// Every other blob too: a layout must hold no damaged blob.
	err = filepath.WalkDir(blobs, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if checked[rel] {
			return nil
		}
		dg := digest.Digest(path.Base(path.Dir(rel)) + ":" + path.Base(rel))
		if dg.Validate() != nil {
			c.problem(rel, "not a blob name")
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		v := dg.Verifier()
		if _, err := io.Copy(v, f); err != nil {
			return err
		}
		if !v.Verified() {
			c.problem(rel, "content does not match its digest")
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return c, nil
}
