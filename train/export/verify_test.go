package export

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

// failingOpen opens files as os.Open does, except the file bad: opening
// it fails with openErr when that is not nil, else reading it fails with
// readErr after its first after bytes, as a failing disk does.
func failingOpen(bad string, openErr, readErr error, after int64) openFunc {
	return func(name string) (io.ReadCloser, error) {
		if name != bad {
			return os.Open(name)
		}
		if openErr != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: openErr}
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		return &failAfter{f: f, left: after, err: readErr}, nil
	}
}

type failAfter struct {
	f    *os.File
	left int64
	err  error
}

func (r *failAfter) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, r.err
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.Read(p)
	r.left -= int64(n)
	return n, err
}

func (r *failAfter) Close() error { return r.f.Close() }

// half is half the size of the file name.
func half(t *testing.T, name string) int64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size() / 2
}

// wantIOError fails unless err is a plain error (exit 1, not integrity)
// that wraps want and names the file bad.
func wantIOError(t *testing.T, what string, err, want error, bad string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: no error", what)
	case errors.Is(err, objects.ErrCorrupt):
		t.Errorf("%s: an I/O error reported as damage: %v", what, err)
	case !errors.Is(err, want):
		t.Errorf("%s: %v, want %v", what, err, want)
	case !strings.Contains(err.Error(), bad):
		t.Errorf("%s: %v does not name %s", what, err, bad)
	}
}

// wantDamage fails unless err is an integrity error naming name.
func wantDamage(t *testing.T, what string, err error, name string) {
	t.Helper()
	if !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), name) {
		t.Errorf("%s: %v, want an integrity error naming %s", what, err, name)
	}
}

// TestVerifyReadErrors: a failed read (EIO, EACCES) of any file of a
// bundle is an error naming the file, never damage; a truncated bundle
// or a missing file is damage.
func TestVerifyReadErrors(t *testing.T) {
	p, _ := modelProject(t)
	dir := t.TempDir()
	recs := StoreRecords{Store: p.r.Store}
	ctx := t.Context()
	for _, name := range []string{"m.tar", "m.tar.zst"} {
		out := filepath.Join(dir, name)
		p.export(Options{Target: "clf", Out: out, Format: FormatTar})
		for _, after := range []int64{0, 300, 1 << 20} {
			_, err := verifyBundle(ctx, out, recs, failingOpen(out, nil, syscall.EIO, after))
			wantIOError(t, name+" read", err, syscall.EIO, name)
		}
		_, err := verifyBundle(ctx, out, recs, failingOpen(out, syscall.EACCES, nil, 0))
		wantIOError(t, name+" open", err, syscall.EACCES, name)

		// Truncated: damage.
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		cut := filepath.Join(dir, "cut-"+name)
		if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = VerifyBundle(ctx, cut, recs)
		wantDamage(t, "truncated "+name, err, "unexpected EOF")
	}

	o := filepath.Join(dir, "oci")
	p.export(Options{Target: "clf", Out: o, Format: FormatOCI})
	files := []string{filepath.Join(o, "index.json")}
	blobs, _ := filepath.Glob(filepath.Join(o, "blobs", "sha256", "*"))
	files = append(files, blobs...)
	for _, f := range files {
		rel, _ := filepath.Rel(o, f)
		_, err := verifyBundle(ctx, o, recs, failingOpen(f, nil, syscall.EIO, half(t, f)))
		wantIOError(t, "oci read "+rel, err, syscall.EIO, rel)
		_, err = verifyBundle(ctx, o, recs, failingOpen(f, syscall.EACCES, nil, 0))
		wantIOError(t, "oci open "+rel, err, syscall.EACCES, rel)
	}
	for _, f := range files {
		if err := os.Rename(f, f+".gone"); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(o, f)
		_, err := VerifyBundle(ctx, o, recs)
		wantDamage(t, "oci missing "+rel, err, filepath.Base(rel))
		if err := os.Rename(f+".gone", f); err != nil {
			t.Fatal(err)
		}
	}

	d := filepath.Join(dir, "ctx")
	p.export(Options{Target: "clf", Out: d, Format: FormatDocker})
	for _, rel := range []string{ManifestName, DockerfileName, "model/weights.bin", "model/tok/config.json"} {
		f := filepath.Join(d, filepath.FromSlash(rel))
		_, err := verifyBundle(ctx, d, recs, failingOpen(f, nil, syscall.EIO, half(t, f)))
		wantIOError(t, "docker read "+rel, err, syscall.EIO, rel)
		_, err = verifyBundle(ctx, d, recs, failingOpen(f, syscall.EACCES, nil, 0))
		wantIOError(t, "docker open "+rel, err, syscall.EACCES, rel)
	}
	if err := os.Remove(filepath.Join(d, DockerfileName)); err != nil {
		t.Fatal(err)
	}
	_, err := VerifyBundle(ctx, d, recs)
	wantDamage(t, "docker missing Dockerfile", err, DockerfileName)
	if res, err := VerifyBundle(ctx, filepath.Join(dir, "m.tar"), recs); err != nil || !res.RecordChecked {
		t.Fatalf("intact tar: %+v, %v", res, err)
	}
}

// runLoader is a project's store whose model version has no metrics of
// its own and names run, which loads with err.
type runLoader struct {
	StoreRecords
	run objects.ID
	err error
}

func (l runLoader) Load(ctx context.Context, id objects.ID) (*lineage.Record, error) {
	if id == l.run {
		return nil, l.err
	}
	rec, err := l.StoreRecords.Load(ctx, id)
	if err == nil {
		rec.Metrics, rec.Run = nil, l.run
	}
	return rec, err
}

// TestVerifyRunLoad: failing to load the version's run is an error, not
// "metrics differ"; a run the store lacks leaves the metrics unchecked.
func TestVerifyRunLoad(t *testing.T) {
	p, _ := modelProject(t)
	out := filepath.Join(t.TempDir(), "ctx")
	p.export(Options{Target: "clf", Out: out, Format: FormatDocker})
	run := objects.Hash(objects.TypeBlob, []byte("a run"))
	mp := filepath.Join(out, ManifestName)
	mb, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeManifest(mb)
	if err != nil {
		t.Fatal(err)
	}
	m.Lineage = &Lineage{Run: run}
	if mb, err = m.Encode(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mp, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	eio := &fs.PathError{Op: "read", Path: "objects/run", Err: syscall.EIO}
	_, err = VerifyBundle(t.Context(), out, runLoader{StoreRecords{p.r.Store}, run, eio})
	wantIOError(t, "run load", err, syscall.EIO, "objects/run")

	res, err := VerifyBundle(t.Context(), out, runLoader{StoreRecords{p.r.Store}, run, &objects.NotFoundError{ID: run}})
	if err != nil || !res.RecordChecked || !strings.Contains(res.Note, "metrics not checked") {
		t.Fatalf("run not in the store: %+v, %v", res, err)
	}
}

// retar copies the tar in to out, leaving out the entry named drop and
// adding a folder entry named add (each when not "").
func retar(t *testing.T, in, out, drop, add string) {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	tr, tw := tar.NewReader(f), tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == drop {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if add != "" {
		if err := tw.WriteHeader(&tar.Header{Name: add, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDirs: the folders of a tar or a docker context must be the
// manifest's, both ways: a removed empty folder or an extra one is
// damage.
func TestVerifyDirs(t *testing.T) {
	p, _ := modelProject(t)
	dir := t.TempDir()
	recs := StoreRecords{Store: p.r.Store}
	ctx := t.Context()
	tp := filepath.Join(dir, "m.tar")
	p.export(Options{Target: "clf", Out: tp, Format: FormatTar})
	for _, tc := range []struct{ drop, add, want string }{
		{"model/empty/", "", "model/empty: listed in manifest.json but not in the bundle"},
		{"", "model/extra/", "model/extra: in the bundle but not in manifest.json"},
		{"", "model/empty/sub/", "model/empty/sub: in the bundle but not in manifest.json"},
		{"model/empty/", "model/tok/more/", "model/tok/more: in the bundle but not in manifest.json"},
	} {
		out := filepath.Join(dir, "d.tar")
		retar(t, tp, out, tc.drop, tc.add)
		_, err := VerifyBundle(ctx, out, recs)
		wantDamage(t, "tar -"+tc.drop+" +"+tc.add, err, tc.want)
	}
	// A tar that holds only the folders no file lies in is whole.
	out := filepath.Join(dir, "d.tar")
	retar(t, tp, out, "model/tok/", "")
	if _, err := VerifyBundle(ctx, out, recs); err != nil {
		t.Fatalf("tar without model/tok/: %v", err)
	}

	d := filepath.Join(dir, "ctx")
	p.export(Options{Target: "clf", Out: d, Format: FormatDocker})
	empty, extra := filepath.Join(d, "model", "empty"), filepath.Join(d, "model", "tok", "extra")
	if err := os.Remove(empty); err != nil {
		t.Fatal(err)
	}
	_, err := VerifyBundle(ctx, d, recs)
	wantDamage(t, "docker without model/empty", err, "model/empty: listed in manifest.json but not in the bundle")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyBundle(ctx, d, recs)
	wantDamage(t, "docker with model/tok/extra", err, "model/tok/extra: in the bundle but not in manifest.json")
	if err := os.Remove(extra); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyBundle(ctx, d, recs); err != nil {
		t.Fatalf("docker context restored: %v", err)
	}
}
