package export

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/workspace"
)

// Where the docker format's image holds the bundle.
const (
	ImageModelDir    = "/model"                 // the model's files
	ImageManifestDir = "/dv"                    // manifest.json
	DockerfileName   = "Dockerfile"             // in the build context
	serveSection     = "serve"                  // dv.yaml's key
	defaultBase      = "scratch"                // FROM, when serve: names none
	imageModelEnv    = "DV_MODEL_DIR"           // set in the image to ImageModelDir
	imageManifestEnv = "DV_MODEL_MANIFEST"      // set in the image to the manifest's path
	imageManifest    = "/dv/manifest.json"      // ImageManifestDir/ManifestName
	dockerComment    = "# Written by dv export" // first line of the Dockerfile
)

// Serve is dv.yaml's serve: section, read by dv export --format docker.
type Serve struct {
	// Base is the image to build on (FROM); default scratch: files only.
	Base string `yaml:"base"`
	// Command is the serving command, exec form (CMD ["..."]).
	Command []string `yaml:"command"`
	// Port is the port the server listens on (EXPOSE), 0 for none.
	Port int `yaml:"port"`
	// Env sets environment variables in the image.
	Env map[string]string `yaml:"env"`
	// Workdir is the working directory of the command.
	Workdir string `yaml:"workdir"`
}

var (
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	imageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]*$`)
)

// LoadServe reads the serve: section of the project's dv.yaml (the
// defaults when it has none).
func LoadServe(c *workspace.Config) (*Serve, error) {
	s := &Serve{}
	ok, err := c.Section(serveSection, s)
	if err != nil || !ok {
		return s, err
	}
	n := c.Node(serveSection)
	switch {
	case s.Base != "" && !imageName.MatchString(s.Base):
		return nil, workspace.SectionErr(n, serveSection+".base", "%q is not an image name", s.Base)
	case s.Port < 0 || s.Port > 65535:
		return nil, workspace.SectionErr(n, serveSection+".port", "%d is not a port", s.Port)
	case strings.ContainsAny(s.Workdir, "\n\r") || (s.Workdir != "" && !strings.HasPrefix(s.Workdir, "/")):
		return nil, workspace.SectionErr(n, serveSection+".workdir", "want an absolute path")
	}
	for _, a := range s.Command {
		if strings.ContainsAny(a, "\n\r") {
			return nil, workspace.SectionErr(n, serveSection+".command", "an argument holds a line break")
		}
	}
	for k, v := range s.Env {
		if !envName.MatchString(k) || strings.ContainsAny(v, "\n\r") {
			return nil, workspace.SectionErr(n, serveSection+".env."+k, "want NAME: value on one line")
		}
	}
	return s, nil
}

// dockerQuote quotes a Dockerfile word: double quotes, with \, " and $
// escaped (LABEL and ENV expand variables).
func dockerQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", " ", "\r", " ")
	return `"` + r.Replace(s) + `"`
}

// dockerfile returns the Dockerfile: the base, the files, the provenance
// as OCI labels, the environment and the serving command.
func (p *plan) dockerfile(sv *Serve) string {
	if sv == nil {
		sv = &Serve{}
	}
	base := sv.Base
	if base == "" {
		base = defaultBase
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: model %s v%d (record %s).\n", dockerComment, p.m.Model.Name, p.m.Model.Number, p.m.Model.Record.Short())
	fmt.Fprintf(&b, "# Build it with: buildah bud -t %s:%s .   (or docker build)\n", strings.ToLower(p.m.Model.Name), p.tag)
	fmt.Fprintf(&b, "FROM %s\n", base)
	fmt.Fprintf(&b, "COPY %s/ %s/\n", ModelDir, ImageModelDir)
	fmt.Fprintf(&b, "COPY %s %s\n", ManifestName, imageManifest)
	labels := p.ociAnnotations()
	for _, k := range []string{AnnotationCommand, AnnotationParams, AnnotationInputs} {
		delete(labels, k) // JSON, in the manifest; labels stay short
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("LABEL")
	for _, k := range keys {
		fmt.Fprintf(&b, " \\\n      %s=%s", k, dockerQuote(labels[k]))
	}
	b.WriteString("\n")
	env := map[string]string{imageModelEnv: ImageModelDir, imageManifestEnv: imageManifest}
	for k, v := range sv.Env {
		env[k] = v
	}
	keys = keys[:0]
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "ENV %s=%s\n", k, dockerQuote(env[k]))
	}
	if sv.Workdir != "" {
		fmt.Fprintf(&b, "WORKDIR %s\n", sv.Workdir)
	}
	if sv.Port > 0 {
		fmt.Fprintf(&b, "EXPOSE %d\n", sv.Port)
	}
	if len(sv.Command) > 0 {
		q := make([]string, len(sv.Command))
		for i, a := range sv.Command {
			q[i] = strconv.Quote(a)
		}
		fmt.Fprintf(&b, "CMD [%s]\n", strings.Join(q, ", "))
	}
	return b.String()
}

// writeDocker writes the build context at dir: Dockerfile, manifest.json
// and model/, every file and folder with the bundle's mtime so that the
// image's layers do not depend on when the context was written.
func (p *plan) writeDocker(ctx context.Context, s *objects.Store, dir string, sv *Serve) error {
	for _, e := range p.entries() {
		if e.file != -1 {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(e.path)), 0o755); err != nil {
			return err
		}
	}
	for i := range p.files {
		pf := &p.files[i]
		if err := writeFileFromStore(ctx, s, pf, filepath.Join(dir, filepath.FromSlash(pf.Path))); err != nil {
			return err
		}
	}
	mb, err := p.manifestBytes(true)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestName), mb, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, DockerfileName), []byte(p.dockerfile(sv)), 0o644); err != nil {
		return err
	}
	return setTimes(dir, p.epoch)
}

// setTimes gives every file and folder below dir (and dir) the time t,
// folders after their contents: writing into a folder changes its mtime.
func setTimes(dir string, t time.Time) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	if err != nil {
		return err
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Chtimes(paths[i], t, t); err != nil {
			return err
		}
	}
	return nil
}

func writeFileFromStore(ctx context.Context, s *objects.Store, pf *planFile, name string) error {
	perm := os.FileMode(0o644)
	if pf.Exec() {
		perm = 0o755
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := streamFile(ctx, s, pf, bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // umask
		return err
	}
	return f.Close()
}
