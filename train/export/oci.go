package export

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/dv-ml/dv/objects"
)

// CNCF ModelPack media types and annotations (model-spec, specs-go/v1).
// github.com/modelpack/model-spec is not served by the module proxy this
// project can reach, so the names are written out here, exactly as the
// specification spells them.
const (
	ArtifactTypeModelManifest = "application/vnd.cncf.model.manifest.v1+json"
	MediaTypeModelConfig      = "application/vnd.cncf.model.config.v1+json"
	MediaTypeModelWeightRaw   = "application/vnd.cncf.model.weight.v1.raw"
	MediaTypeModelWeightCfg   = "application/vnd.cncf.model.weight.config.v1.raw"
	MediaTypeModelDocRaw      = "application/vnd.cncf.model.doc.v1.raw"
	MediaTypeModelCodeRaw     = "application/vnd.cncf.model.code.v1.raw"
	AnnotationFilepath        = "org.cncf.model.filepath"
	AnnotationFileMetadata    = "org.cncf.model.file.metadata+json"
)

// dv's own annotations (and docker labels): the CNCF and OCI names are
// never changed; dv's lineage goes under this prefix.
const (
	AnnotationPrefix   = "com.github.dv-ml.dv."
	AnnotationRecord   = AnnotationPrefix + "record"   // the model version's record id
	AnnotationData     = AnnotationPrefix + "data"     // dv id of the files
	AnnotationModel    = AnnotationPrefix + "model"    // the model's name
	AnnotationNumber   = AnnotationPrefix + "number"   // the version number N of vN
	AnnotationRun      = AnnotationPrefix + "run"      // the run that made it
	AnnotationCommand  = AnnotationPrefix + "command"  // the run's argv, JSON
	AnnotationParams   = AnnotationPrefix + "params"   // the run's params, JSON
	AnnotationInputs   = AnnotationPrefix + "inputs"   // the run's input versions, JSON
	AnnotationDirty    = AnnotationPrefix + "dirty"    // "true" when the work tree was dirty
	AnnotationVersion  = AnnotationPrefix + "version"  // the dv version that wrote the bundle
	AnnotationManifest = AnnotationPrefix + "manifest" // "true" on the layer holding manifest.json
	AnnotationAliases  = AnnotationPrefix + "aliases"  // the aliases holding the version, comma-separated
	AnnotationEvents   = AnnotationPrefix + "events"   // the events that gave them, comma-separated
)

// modelConfig is the ModelPack config (application/vnd.cncf.model.config.v1+json).
type modelConfig struct {
	Descriptor modelDescriptor `json:"descriptor"`
	ModelFS    modelFS         `json:"modelfs"`
	Config     modelCfg        `json:"config"`
}

type modelDescriptor struct {
	CreatedAt   *time.Time `json:"createdAt,omitempty"`
	Authors     []string   `json:"authors,omitempty"`
	Name        string     `json:"name,omitempty"`
	SourceURL   string     `json:"sourceURL,omitempty"`
	Version     string     `json:"version,omitempty"`
	Revision    string     `json:"revision,omitempty"`
	Licenses    []string   `json:"licenses,omitempty"`
	Title       string     `json:"title,omitempty"`
	Description string     `json:"description,omitempty"`
}

type modelFS struct {
	Type    string          `json:"type"`
	DiffIDs []digest.Digest `json:"diffIds"`
}

type modelCfg struct {
	Format string `json:"format,omitempty"`
}

// fileMetadata is the value of org.cncf.model.file.metadata+json.
type fileMetadata struct {
	Name     string    `json:"name"`
	Mode     uint32    `json:"mode"`
	UID      uint32    `json:"uid"`
	GID      uint32    `json:"gid"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mtime"`
	Typeflag byte      `json:"typeflag"`
}

// layerMediaType sorts a file into weights, weight config, docs or code by
// its name.
func layerMediaType(p string) string {
	base := strings.ToLower(path.Base(p))
	ext := path.Ext(base)
	switch {
	case strings.HasPrefix(base, "readme"), strings.HasPrefix(base, "license"), strings.HasPrefix(base, "licence"),
		ext == ".md", ext == ".rst", ext == ".txt", ext == ".pdf", ext == ".html":
		return MediaTypeModelDocRaw
	case ext == ".py", ext == ".sh", ext == ".ipynb", ext == ".js", ext == ".ts", ext == ".r", ext == ".go", ext == ".java":
		return MediaTypeModelCodeRaw
	case ext == ".json", ext == ".yaml", ext == ".yml", ext == ".toml", ext == ".cfg", ext == ".ini", ext == ".model", ext == ".vocab":
		return MediaTypeModelWeightCfg
	}
	return MediaTypeModelWeightRaw
}

// modelFormat names the format of the model's weights when every weight
// file agrees on one.
func modelFormat(files []planFile) string {
	formats := map[string]string{".onnx": "onnx", ".pt": "pytorch", ".pth": "pytorch", ".safetensors": "safetensors",
		".gguf": "gguf", ".h5": "keras", ".keras": "keras", ".pb": "tensorflow", ".tflite": "tflite",
		".pkl": "pickle", ".joblib": "joblib", ".xgb": "xgboost", ".ubj": "xgboost"}
	found := ""
	for _, f := range files {
		if layerMediaType(f.Path) != MediaTypeModelWeightRaw {
			continue
		}
		fm := formats[strings.ToLower(path.Ext(f.Path))]
		if fm == "" || (found != "" && fm != found) {
			return ""
		}
		found = fm
	}
	return found
}

// ociAnnotations are the manifest's annotations: OCI's and dv's lineage.
func (p *plan) ociAnnotations() map[string]string {
	m := p.m
	a := map[string]string{
		ocispec.AnnotationCreated: p.epoch.Format(time.RFC3339),
		ocispec.AnnotationVersion: p.tag,
		ocispec.AnnotationTitle:   m.Model.Name,
		AnnotationModel:           m.Model.Name,
		AnnotationNumber:          strconv.Itoa(m.Model.Number),
		AnnotationRecord:          m.Model.Record.String(),
		AnnotationData:            m.Model.Data.String(),
		AnnotationVersion:         m.DV,
	}
	if m.Model.Commit != "" {
		a[ocispec.AnnotationRevision] = m.Model.Commit
	}
	if m.Model.Dirty {
		a[AnnotationDirty] = "true"
	}
	if len(m.Aliases) > 0 {
		a[AnnotationAliases] = strings.Join(m.Aliases, ",")
		evs := make([]string, len(m.Promotions))
		for i, pr := range m.Promotions {
			evs[i] = pr.Event.String()
		}
		a[AnnotationEvents] = strings.Join(evs, ",")
	}
	if p.src != "" {
		a[ocispec.AnnotationSource] = p.src
	}
	if m.Model.Desc != "" {
		a[ocispec.AnnotationDescription] = m.Model.Desc
	}
	if l := m.Lineage; l != nil {
		a[AnnotationRun] = l.Run.String()
		if len(l.Command) > 0 {
			a[AnnotationCommand] = compactJSON(l.Command)
		}
		if len(l.Params) > 0 {
			a[AnnotationParams] = compactJSON(l.Params)
		}
		if len(l.Inputs) > 0 {
			a[AnnotationInputs] = compactJSON(l.Inputs)
		}
	}
	return a
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// ociLayout writes blobs into an OCI image layout folder.
type ociLayout struct{ dir string }

func (l *ociLayout) blobPath(d digest.Digest) string {
	return filepath.Join(l.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// putBytes stores b as a blob and returns its descriptor.
func (l *ociLayout) putBytes(mediaType string, b []byte) (ocispec.Descriptor, error) {
	d := digest.FromBytes(b)
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
	if _, err := os.Stat(l.blobPath(d)); err == nil {
		return desc, nil
	}
	return desc, os.WriteFile(l.blobPath(d), b, 0o644)
}

// putFile streams a model file into a blob, named once its digest is known.
func (l *ociLayout) putFile(ctx context.Context, s *objects.Store, pf *planFile) (ocispec.Descriptor, error) {
	tmp, err := os.CreateTemp(filepath.Join(l.dir, "blobs", "sha256"), ".tmp-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := streamFile(ctx, s, pf, bw); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := bw.Flush(); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := tmp.Close(); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return ocispec.Descriptor{}, err
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, pf.SHA256)
	if err := os.Rename(tmp.Name(), l.blobPath(d)); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: layerMediaType(pf.Path), Digest: d, Size: pf.Size}, nil
}

// writeOCI writes the bundle as an OCI image layout at dir holding one
// ModelPack manifest, tagged v<N>, and returns the manifest's digest.
func (p *plan) writeOCI(ctx context.Context, s *objects.Store, dir string) (string, error) {
	l := &ociLayout{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return "", err
	}
	layout, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err := os.WriteFile(filepath.Join(dir, ocispec.ImageLayoutFile), layout, 0o644); err != nil {
		return "", err
	}
	var layers []ocispec.Descriptor
	var diffIDs []digest.Digest
	for i := range p.files {
		pf := &p.files[i]
		desc, err := l.putFile(ctx, s, pf)
		if err != nil {
			return "", err
		}
		mode := uint32(0o644)
		if pf.Exec() {
			mode = 0o755
		}
		meta := compactJSON(fileMetadata{Name: pf.Path, Mode: mode, Size: pf.Size, ModTime: p.epoch, Typeflag: '0'})
		desc.Annotations = map[string]string{AnnotationFilepath: pf.Path, AnnotationFileMetadata: meta,
			ocispec.AnnotationTitle: pf.Path} // oras pull writes the file there
		layers = append(layers, desc)
		diffIDs = append(diffIDs, desc.Digest)
	}
	mb, err := p.manifestBytes(true)
	if err != nil {
		return "", err
	}
	mdesc, err := l.putBytes(MediaTypeModelDocRaw, mb)
	if err != nil {
		return "", err
	}
	mdesc.Annotations = map[string]string{AnnotationFilepath: ManifestName, AnnotationManifest: "true",
		AnnotationFileMetadata: compactJSON(fileMetadata{Name: ManifestName, Mode: 0o644, Size: int64(len(mb)),
			ModTime: p.epoch, Typeflag: '0'}),
		ocispec.AnnotationTitle: ManifestName}
	layers = append(layers, mdesc)
	diffIDs = append(diffIDs, mdesc.Digest)

	created := p.epoch
	cfg := modelConfig{
		Descriptor: modelDescriptor{CreatedAt: &created, Name: p.m.Model.Name, Version: p.tag,
			Revision: p.m.Model.Commit, SourceURL: p.src, Title: p.m.Model.Name, Description: p.m.Model.Desc},
		ModelFS: modelFS{Type: "layers", DiffIDs: diffIDs},
		Config:  modelCfg{Format: modelFormat(p.files)},
	}
	if lic := p.m.Model.Meta["license"]; lic != "" {
		cfg.Descriptor.Licenses = []string{lic}
	}
	if who := p.m.Model.Who; who.Email != "" || who.Name != "" {
		cfg.Descriptor.Authors = []string{strings.TrimSpace(who.Name + " <" + who.Email + ">")}
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	cdesc, err := l.putBytes(MediaTypeModelConfig, cb)
	if err != nil {
		return "", err
	}
	man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeModelManifest, Config: cdesc, Layers: layers, Annotations: p.ociAnnotations()}
	manb, err := json.Marshal(man)
	if err != nil {
		return "", err
	}
	mfdesc, err := l.putBytes(ocispec.MediaTypeImageManifest, manb)
	if err != nil {
		return "", err
	}
	mfdesc.ArtifactType = ArtifactTypeModelManifest
	mfdesc.Annotations = map[string]string{ocispec.AnnotationRefName: p.tag}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{mfdesc}}
	ib, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ocispec.ImageIndexFile), ib, 0o644); err != nil {
		return "", err
	}
	return mfdesc.Digest.String(), setTimes(dir, p.epoch)
}

// isOCILayout reports whether dir holds an oci-layout file.
func isOCILayout(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile))
	return !errors.Is(err, fs.ErrNotExist)
}
