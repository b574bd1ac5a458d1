package export

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	gitrepo "github.com/dv-ml/dv/refs/git"
	"github.com/dv-ml/dv/train/traintest"
)

// tproj is a dv project (no git) with a model version recorded as dv add
// --kind model records it.
type tproj struct {
	t    *testing.T
	root string
	r    *workspace.Repo
	rs   *refs.Store
	rc   *lineage.Recorder
}

func newProj(t *testing.T) *tproj {
	t.Helper()
	p := traintest.New(t, traintest.Options{Start: time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC),
		Code: gitrepo.Context{Commit: "0123456789abcdef0123456789abcdef01234567"}})
	return &tproj{t: t, root: p.Root, r: p.Repo, rs: p.Refs, rc: p.Rec}
}

func (p *tproj) write(rel string, data []byte, mode os.FileMode) {
	p.t.Helper()
	abs := filepath.Join(p.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(abs, data, mode); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Chmod(abs, mode); err != nil {
		p.t.Fatal(err)
	}
}

// addModel tracks rel as model name and returns the version's record id.
func (p *tproj) addModel(rel, name string) objects.ID {
	p.t.Helper()
	var id objects.ID
	opts := workspace.AddOptions{Kind: "model", Name: name, Meta: map[string]string{"license": "MIT"}}
	opts.Annotate = func(ctx context.Context, w objects.Putter, ptr, prev *pointer.Pointer) (func(context.Context) error, error) {
		rec, ref := lineage.Version(rel, ptr, prev)
		rec.Metrics = map[string]float64{"acc": 0.75}
		rid, commit, err := p.rc.Prepare(ctx, w, rec, ref)
		ptr.Record, id = rid, rid
		return commit, err
	}
	if _, err := p.r.Add(p.t.Context(), rel, opts); err != nil {
		p.t.Fatal(err)
	}
	return id
}

func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// modelProject has a directory model: weights of several chunks, an
// executable, a doc, a nested config and an empty folder.
func modelProject(t *testing.T) (*tproj, objects.ID) {
	p := newProj(t)
	p.write("clf/weights.bin", randBytes(3<<20+123, 1), 0o644)
	p.write("clf/serve.sh", []byte("#!/bin/sh\necho serve\n"), 0o755)
	p.write("clf/README.md", []byte("# clf\n"), 0o644)
	p.write("clf/tok/config.json", []byte(`{"a": 1}`), 0o644)
	if err := os.MkdirAll(filepath.Join(p.root, "clf/empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p, p.addModel("clf", "clf")
}

func (p *tproj) export(opts Options) *Result {
	p.t.Helper()
	opts.DVVersion = "test"
	res, err := Export(p.t.Context(), p.r, p.rs, opts)
	if err != nil {
		p.t.Fatalf("export %s: %v", opts.Format, err)
	}
	return res
}

// touchAll moves every file's times of the project (work tree and store)
// to a later time, as a second machine or a later day would have them.
func touchAll(t *testing.T, root string, when time.Time) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := rel + " " + fi.Mode().String() + " " + fi.ModTime().UTC().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[key] = string(b)
		} else {
			out[key] = ""
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDeterministic exports one version twice in each format, the second
// time later (files touched, another zone, one CPU for zstd) and compares
// the bytes.
func TestDeterministic(t *testing.T) {
	p, _ := modelProject(t)
	out := t.TempDir()
	formats := []struct{ format, name string }{
		{FormatTar, "m.tar"}, {FormatTar, "m.tar.zst"}, {FormatOCI, "oci"}, {FormatDocker, "ctx"},
	}
	for _, f := range formats {
		p.export(Options{Target: "clf", Out: filepath.Join(out, "1-"+f.name), Format: f.format})
	}
	touchAll(t, p.root, time.Now().Add(7*time.Minute))
	t.Setenv("TZ", "Asia/Tokyo")
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	for _, f := range formats {
		p.export(Options{Target: "clf", Out: filepath.Join(out, "2-"+f.name), Format: f.format})
	}
	// The .tar.zst holds the very bytes of the .tar.
	zf, err := os.Open(filepath.Join(out, "1-m.tar.zst"))
	if err != nil {
		t.Fatal(err)
	}
	defer zf.Close()
	dec, err := zstd.NewReader(zf)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	unz, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := os.ReadFile(filepath.Join(out, "1-m.tar")); !bytes.Equal(unz, plain) {
		t.Fatal("the .tar.zst does not decompress to the .tar")
	}
	for _, f := range formats {
		a, b := filepath.Join(out, "1-"+f.name), filepath.Join(out, "2-"+f.name)
		ta, tb := readTree(t, a), readTree(t, b)
		if len(ta) != len(tb) {
			t.Fatalf("%s: %d entries, then %d", f.name, len(ta), len(tb))
		}
		for k, v := range ta {
			k2 := strings.Replace(k, "1-"+f.name, "2-"+f.name, 1)
			if k == "." || strings.HasPrefix(k, ". ") {
				continue
			}
			if tb[k2] != v {
				t.Errorf("%s: %s differs between two exports", f.name, k)
			}
		}
	}
}

// TestTarHeaders checks the tar's entries: sorted, uid/gid 0, no names,
// modes from the executable bit, the version's time, USTAR without PAX.
func TestTarHeaders(t *testing.T) {
	p, id := modelProject(t)
	out := filepath.Join(t.TempDir(), "m.tar")
	res := p.export(Options{Target: "clf@v1", Out: out})
	if res.Record != id || res.Number != 1 || res.Files != 4 {
		t.Fatalf("result %+v", res)
	}
	rec, err := lineage.Load(t.Context(), p.r.Store, id)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() ||
			len(h.PAXRecords) != 0 || h.Format != tar.FormatUSTAR {
			t.Errorf("%s: header %+v", h.Name, h)
		}
		if !h.ModTime.Equal(rec.Time.Truncate(time.Second)) {
			t.Errorf("%s: mtime %v, want the version's %v", h.Name, h.ModTime, rec.Time)
		}
		want := int64(0o644)
		if h.Typeflag == tar.TypeDir || h.Name == "model/serve.sh" {
			want = 0o755
		}
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	wantNames := []string{"manifest.json", "model/", "model/README.md", "model/empty/", "model/serve.sh", "model/tok/",
		"model/tok/config.json", "model/weights.bin"}
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Fatalf("entries %v, want %v", names, wantNames)
	}

	epoch := time.Unix(86400, 0).UTC()
	out2 := filepath.Join(t.TempDir(), "e.tar")
	p.export(Options{Target: "clf", Out: out2, Epoch: &epoch})
	f2, err := os.Open(out2)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	h, err := tar.NewReader(f2).Next()
	if err != nil || !h.ModTime.Equal(epoch) {
		t.Fatalf("SOURCE_DATE_EPOCH: mtime %v (%v), want %v", h.ModTime, err, epoch)
	}
}

// TestVerify checks all formats verify, and that damage is found.
func TestVerify(t *testing.T) {
	p, id := modelProject(t)
	dir := t.TempDir()
	recs := StoreRecords{Store: p.r.Store}
	for _, f := range []struct{ format, name string }{{FormatTar, "m.tar"}, {FormatTar, "m.tar.zst"}, {FormatOCI, "oci"}, {FormatDocker, "ctx"}} {
		out := filepath.Join(dir, f.name)
		p.export(Options{Target: "clf", Out: out, Format: f.format})
		res, err := VerifyBundle(t.Context(), out, recs)
		if err != nil || !res.RecordChecked || res.Record != id || res.Files != 4 {
			t.Fatalf("%s: %+v, %v", f.name, res, err)
		}
		if res, err := VerifyBundle(t.Context(), out, nil); err != nil || res.RecordChecked {
			t.Fatalf("%s without a project: %+v, %v", f.name, res, err)
		}
	}

	// A flipped byte in a file of the docker context.
	w := filepath.Join(dir, "ctx", "model", "weights.bin")
	flip(t, w, 1000)
	_, err := VerifyBundle(t.Context(), filepath.Join(dir, "ctx"), recs)
	if !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), "model/weights.bin") {
		t.Fatalf("flipped byte: %v", err)
	}
	flip(t, w, 1000)

	// A file and its digests changed together: the record finds it.
	b := []byte("#!/bin/sh\necho evil\n")
	if err := os.WriteFile(filepath.Join(dir, "ctx", "model", "serve.sh"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(dir, "ctx", ManifestName)
	mb, _ := os.ReadFile(mp)
	m, err := DecodeManifest(mb)
	if err != nil {
		t.Fatal(err)
	}
	s, err := hashStream(t.Context(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Files {
		if m.Files[i].Path == "model/serve.sh" {
			m.Files[i].Size, m.Files[i].SHA256, m.Files[i].BLAKE3, m.Files[i].ID = s.size, s.sha256, s.blake3, s.id
		}
	}
	mb, _ = m.Encode()
	if err := os.WriteFile(mp, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyBundle(t.Context(), filepath.Join(dir, "ctx"), recs)
	if !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), ManifestName) {
		t.Fatalf("consistent tampering: %v", err)
	}

	// A flipped byte in an OCI blob.
	o := filepath.Join(dir, "oci")
	mbytes, err := os.ReadFile(filepath.Join(dir, "m.tar"))
	if err != nil {
		t.Fatal(err)
	}
	_ = mbytes
	blobs, _ := filepath.Glob(filepath.Join(o, "blobs", "sha256", "*"))
	for _, bl := range blobs {
		if fi, _ := os.Stat(bl); fi.Size() > 1<<20 {
			flip(t, bl, 5)
		}
	}
	_, err = VerifyBundle(t.Context(), o, recs)
	if !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), "blobs/sha256/") {
		t.Fatalf("flipped blob: %v", err)
	}

	// A changed metric in a tar's manifest.
	tb, _ := os.ReadFile(filepath.Join(dir, "m.tar"))
	i := bytes.Index(tb, []byte(`"acc": 0.75`))
	copy(tb[i:], `"acc": 0.95`)
	tp := filepath.Join(dir, "t.tar")
	if err := os.WriteFile(tp, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyBundle(t.Context(), tp, recs)
	if !errors.Is(err, objects.ErrCorrupt) || !strings.Contains(err.Error(), "metrics differ") {
		t.Fatalf("changed metric: %v", err)
	}
}

func flip(t *testing.T, name string, off int64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	fi, _ := os.Stat(name)
	if err := os.WriteFile(name, b, fi.Mode()); err != nil {
		t.Fatal(err)
	}
}

// TestErrors: bad targets, existing output, missing data, no partial
// output after a failure.
func TestErrors(t *testing.T) {
	p, _ := modelProject(t)
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.tar")
	if err := os.WriteFile(exists, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target, out, want string
	}{
		{"nope", "a.tar", "nope: not a model, dataset, alias, version, ref, tracked path or record id"},
		{"clf@production", "a.tar", "no version holds alias production"},
		{"clf@v2", "a.tar", "model clf has 1 versions"},
		{"clf", "exists.tar", "already exists; use --force"},
		{"clf", "no/such/dir/a.tar", "does not exist"},
	} {
		out := filepath.Join(dir, tc.out)
		_, err := Export(t.Context(), p.r, p.rs, Options{Target: tc.target, Out: out})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -o %s: %v, want %q", tc.target, tc.out, err, tc.want)
		}
	}
	if b, _ := os.ReadFile(exists); string(b) != "x" {
		t.Fatal("an existing output was changed without --force")
	}
	if _, err := Export(t.Context(), p.r, p.rs, Options{Target: "clf", Out: exists, Force: true}); err != nil {
		t.Fatalf("--force: %v", err)
	}

	// A version whose data the store lacks.
	ghost := &lineage.Record{Type: lineage.TypeModel, Name: "ghost", Path: "ghost.bin", Data: objects.Hash(objects.TypeBlob, []byte("gone")), Size: 4}
	if _, err := p.rc.Write(t.Context(), ghost, "models/ghost"); err != nil {
		t.Fatal(err)
	}
	_, err := Export(t.Context(), p.r, p.rs, Options{Target: "ghost", Out: filepath.Join(dir, "g.tar")})
	if !errors.Is(err, ErrMissingData) || !strings.Contains(err.Error(), "dv pull") {
		t.Fatalf("missing data: %v", err)
	}

	// A write that fails half way (or is interrupted) leaves nothing.
	out := filepath.Join(dir, "partial")
	err = atomicOutput(out, true, false, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		return context.Canceled
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "partial") || strings.Contains(e.Name(), "dv-export") {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Export(ctx, p.r, p.rs, Options{Target: "clf", Out: filepath.Join(dir, "c.tar")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestStreamCancel: a cancelled context stops a file mid-stream.
func TestStreamCancel(t *testing.T) {
	p, id := modelProject(t)
	rec, err := lineage.Load(t.Context(), p.r.Store, id)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := newPlan(t.Context(), p.r, p.rs, id, rec, &Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := &pl.files[len(pl.files)-1]
	if len(big.chunks) < 4 {
		t.Fatalf("weights.bin has %d chunks; want several", len(big.chunks))
	}
	ctx, cancel := context.WithCancel(t.Context())
	w := &cancelAfter{n: 1 << 16, cancel: cancel}
	if err := streamFile(ctx, p.r.Store, big, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("streamFile after cancel: %v", err)
	}
}

type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Write(b []byte) (int, error) {
	c.n -= len(b)
	if c.n <= 0 {
		c.cancel()
	}
	return len(b), nil
}

// TestPromotion: a version exported by its alias carries the alias and
// the event that gave it.
func TestPromotion(t *testing.T) {
	p, id := modelProject(t)
	ev := &lineage.Record{Type: lineage.TypePromotion, Name: "clf", Promotion: &lineage.Promotion{Seq: 1,
		Alias: "production", Decision: "promoted", To: id, ToNumber: 1, Reason: "better"}}
	evID, err := p.rc.Write(t.Context(), ev, "events/clf")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.rs.CompareAndSwap(t.Context(), "aliases/clf/production", objects.ID{}, evID); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "ctx")
	res := p.export(Options{Target: "clf@production", Out: out, Format: FormatDocker})
	if res.Record != id || res.Alias != "production" || len(res.Aliases) != 1 {
		t.Fatalf("result %+v", res)
	}
	b, err := os.ReadFile(filepath.Join(out, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Alias != "production" || len(m.Promotions) != 1 || m.Promotions[0].Event != evID ||
		m.Promotions[0].Decision != "promoted" || m.Promotions[0].Reason != "better" || m.Model.Number != 1 {
		t.Fatalf("manifest: alias %q, promotions %+v", m.Alias, m.Promotions)
	}
	df, _ := os.ReadFile(filepath.Join(out, DockerfileName))
	if !strings.Contains(string(df), AnnotationAliases+`="production"`) {
		t.Fatalf("Dockerfile has no alias label:\n%s", df)
	}
}

// TestLongNames: a name too long for USTAR and a non-ASCII one go into
// PAX path records only (no times), and stay deterministic and verifiable.
func TestLongNames(t *testing.T) {
	p := newProj(t)
	long := "clf/" + strings.Repeat("d", 60) + "/" + strings.Repeat("f", 80) + ".bin"
	p.write(long, []byte("long"), 0o644)
	p.write("clf/ünïcode-日本語.txt", []byte("text"), 0o644)
	p.addModel("clf", "clf")
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	p.export(Options{Target: "clf", Out: a})
	touchAll(t, p.root, time.Now().Add(time.Hour))
	p.export(Options{Target: "clf", Out: b})
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("two exports differ")
	}
	tr := tar.NewReader(bytes.NewReader(ab))
	found := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for k := range h.PAXRecords {
			if k != "path" {
				t.Errorf("%s: PAX record %q", h.Name, k)
			}
		}
		if h.Name == "model/"+strings.TrimPrefix(long, "clf/") || h.Name == "model/ünïcode-日本語.txt" {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the 2 names", found)
	}
	if _, err := VerifyBundle(t.Context(), a, StoreRecords{Store: p.r.Store}); err != nil {
		t.Fatal(err)
	}
}

// TestSymlinkRefused: a bundle carries regular files only.
func TestSymlinkRefused(t *testing.T) {
	p := newProj(t)
	p.write("clf/w.bin", []byte("w"), 0o644)
	if err := os.Symlink("w.bin", filepath.Join(p.root, "clf", "link")); err != nil {
		t.Fatal(err)
	}
	p.addModel("clf", "clf")
	_, err := Export(t.Context(), p.r, p.rs, Options{Target: "clf", Out: filepath.Join(t.TempDir(), "a.tar")})
	if err == nil || !strings.Contains(err.Error(), "link is a symlink: a bundle carries regular files only") {
		t.Fatalf("symlink: %v", err)
	}
}
