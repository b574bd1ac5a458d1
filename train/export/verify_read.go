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
func readOCI(ctx context.Context, dir string) (*contents, error) {
	r := &ociReader{
		dir:     dir,
		c:       &contents{format: FormatOCI, files: map[string]*seenFile{}, dirs: map[string]bool{}},
		checked: map[string]bool{},
	}
	ib, err := os.ReadFile(filepath.Join(dir, ocispec.ImageIndexFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(ib, &idx); err != nil {
		r.c.problem(ocispec.ImageIndexFile, "%v", err)
		return r.c, nil
	}
	man := r.modelManifest(&idx)
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
	c       *contents
	checked map[string]bool // blob paths relative to dir, slash-separated
}

// blobPath is the path of the blob with digest d, relative to the layout.
func blobPath(d digest.Digest) string {
	return path.Join("blobs", d.Algorithm().String(), d.Encoded())
}

// readBlob reads the small blob d (a manifest, the config, dv's
// manifest) whole, checking its size and digest; nil after a problem.
func (r *ociReader) readBlob(d ocispec.Descriptor, what string) []byte {
	rel := blobPath(d.Digest)
	if d.Digest.Validate() != nil {
		r.c.problem(what, "bad digest %q", d.Digest)
		return nil
	}
	if d.Size < 0 || d.Size > maxManifest {
		r.c.problem(rel, "%s: %d bytes, more than dv reads for one", what, d.Size)
		return nil
	}
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(rel)))
	r.checked[rel] = true
	switch {
	case err != nil:
		r.c.problem(rel, "%s: %v", what, err)
		return nil
	case int64(len(b)) != d.Size:
		r.c.problem(rel, "%s: %d bytes, its descriptor says %d", what, len(b), d.Size)
		return nil
	case digest.FromBytes(b) != d.Digest:
		r.c.problem(rel, "%s: content does not match its digest", what)
		return nil
	}
	return b
}

// modelManifest reads every manifest the index names and returns the
// first ModelPack one, or nil.
func (r *ociReader) modelManifest(idx *ocispec.Index) *ocispec.Manifest {
	var man *ocispec.Manifest
	for _, d := range idx.Manifests {
		mb := r.readBlob(d, "manifest "+d.Annotations[ocispec.AnnotationRefName])
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
	return man
}

// hashLayers reads man's config and hashes each layer as the file its
// filepath annotation names (dv's manifest layer is read whole).
func (r *ociReader) hashLayers(ctx context.Context, man *ocispec.Manifest) error {
	var cfg modelConfig
	if cb := r.readBlob(man.Config, "config"); cb != nil {
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
// a damaged layer is a problem, only a failed read of its stream an error.
func (r *ociReader) hashLayer(ctx context.Context, i int, l ocispec.Descriptor, diffIDs []digest.Digest) error {
	fp := l.Annotations[AnnotationFilepath]
	rel := blobPath(l.Digest)
	if i >= len(diffIDs) || diffIDs[i] != l.Digest {
		r.c.problem(rel, "layer %d (%s) is not the config's diffIds[%d]", i, fp, i)
	}
	if fp == ManifestName {
		if b := r.readBlob(l, ManifestName); b != nil {
			r.c.manifest = b
		}
		return nil
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
	f, err := os.Open(filepath.Join(r.dir, filepath.FromSlash(rel)))
	if err != nil {
		r.c.problem(rel, "layer %s: %v", fp, err)
		return nil
	}
	s, err := hashStream(ctx, bufio.NewReaderSize(f, 1<<20))
	f.Close()
	if err != nil {
		return err
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
		r.c.problem(rel, "content does not match its digest")
	}
	return nil
}
