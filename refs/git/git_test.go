package gitrepo

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/objects/pointer"
)

// tstGit runs git in dir with a fixed identity and no user configuration.
func tstGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir,
		"GIT_AUTHOR_NAME=dv test", "GIT_AUTHOR_EMAIL=test@dv.invalid",
		"GIT_COMMITTER_NAME=dv test", "GIT_COMMITTER_EMAIL=test@dv.invalid",
		"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-01-01T00:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func tstWritePointer(t testing.TB, root, rel string, p *pointer.Pointer) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(rel)+pointer.Ext)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := pointer.Write(path, p); err != nil {
		t.Fatal(err)
	}
}

func tstPtr(seed string, typ string) *pointer.Pointer {
	t := objects.TypeTree
	if typ == objects.EntryFile {
		t = objects.TypeBlob
	}
	return &pointer.Pointer{Kind: "dataset", Type: typ, OID: objects.Hash(t, []byte(seed)), Size: 1, Files: 1}
}

func tstOIDs(m map[string]*pointer.Pointer) map[string]objects.ID {
	out := map[string]objects.ID{}
	for k, p := range m {
		out[k] = p.OID
	}
	return out
}

func TestGitPointersAndHistory(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required for this test")
	}
	ctx := context.Background()
	root := t.TempDir()
	tstGit(t, root, "init", "-q", "-b", "main")

	g, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := g.Head(); err != nil || h != "" {
		t.Fatalf("Head with no commits: %q, %v", h, err)
	}
	if ids, err := g.HistoryRoots(ctx, func(error) {}); err != nil || len(ids) != 0 {
		t.Fatalf("HistoryRoots with no commits: %v, %v", ids, err)
	}

	v1 := map[string]*pointer.Pointer{
		"data":          tstPtr("data v1", objects.EntryDir),
		"models/m.bin":  tstPtr("model v1", objects.EntryFile),
		"deep/a/b/c/ds": tstPtr("deep", objects.EntryDir),
	}
	for rel, p := range v1 {
		tstWritePointer(t, root, rel, p)
	}
	if err := os.WriteFile(filepath.Join(root, "README"), []byte("not a pointer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tstGit(t, root, "add", "-A")
	tstGit(t, root, "commit", "-q", "-m", "v1")

	v2 := map[string]*pointer.Pointer{
		"data":          tstPtr("data v2", objects.EntryDir),
		"models/m.bin":  v1["models/m.bin"],
		"deep/a/b/c/ds": v1["deep/a/b/c/ds"],
		"fresh":         tstPtr("fresh", objects.EntryFile),
	}
	for rel, p := range v2 {
		tstWritePointer(t, root, rel, p)
	}
	tstGit(t, root, "add", "-A")
	tstGit(t, root, "commit", "-q", "-m", "v2")

	// A side branch with a pointer only it has, and a malformed one.
	tstGit(t, root, "checkout", "-q", "-b", "side")
	side := tstPtr("side only", objects.EntryDir)
	tstWritePointer(t, root, "side", side)
	if err := os.WriteFile(filepath.Join(root, "broken.dv"), []byte("version: 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tstGit(t, root, "add", "-A")
	tstGit(t, root, "commit", "-q", "-m", "side")
	tstGit(t, root, "checkout", "-q", "main")

	g, err = Open(root)
	if err != nil {
		t.Fatal(err)
	}
	head, err := g.Head()
	if err != nil || head != tstGit(t, root, "rev-parse", "HEAD") {
		t.Fatalf("Head = %q, %v", head, err)
	}
	for _, tc := range []struct {
		rev  string
		want map[string]*pointer.Pointer
	}{
		{"HEAD~1", v1},
		{"HEAD", v2},
		{"main", v2},
		{tstGit(t, root, "rev-parse", "HEAD~1"), v1},
	} {
		got, err := g.Pointers(ctx, tc.rev)
		if err != nil {
			t.Fatalf("Pointers(%s): %v", tc.rev, err)
		}
		if g, w := tstOIDs(got), tstOIDs(tc.want); !maps.Equal(g, w) {
			t.Fatalf("Pointers(%s) = %v, want %v", tc.rev, g, w)
		}
	}
	if _, err := g.Pointers(ctx, "side"); err == nil || !strings.Contains(err.Error(), "broken.dv") {
		t.Fatalf("Pointers of a revision with a malformed pointer: %v (want an error naming it)", err)
	}
	if _, err := g.Pointers(ctx, "no-such-branch"); err == nil {
		t.Fatal("Pointers of an unknown revision succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.Pointers(cctx, "HEAD"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pointers with a cancelled context: %v", err)
	}

	var bad []error
	ids, err := g.HistoryRoots(ctx, func(err error) { bad = append(bad, err) })
	if err != nil {
		t.Fatal(err)
	}
	want := []objects.ID{v1["data"].OID, v1["models/m.bin"].OID, v1["deep/a/b/c/ds"].OID, v2["data"].OID, v2["fresh"].OID, side.OID}
	if !tstSameSet(ids, want) {
		t.Fatalf("HistoryRoots = %v, want %v", ids, want)
	}
	if len(bad) != 1 || !strings.Contains(bad[0].Error(), "broken.dv") {
		t.Fatalf("bad pointers reported: %v", bad)
	}
}

func TestGitSubdirectoryRoot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := t.TempDir()
	tstGit(t, repo, "init", "-q", "-b", "main")
	inside := tstPtr("inside", objects.EntryDir)
	outside := tstPtr("outside", objects.EntryDir)
	tstWritePointer(t, repo, "proj/data", inside)
	tstWritePointer(t, repo, "other/data", outside)
	tstWritePointer(t, repo, "projx/data", outside) // shares a prefix with proj
	tstGit(t, repo, "add", "-A")
	tstGit(t, repo, "commit", "-q", "-m", "one")

	g, err := Open(filepath.Join(repo, "proj"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.Pointers(ctx, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["data"] == nil || got["data"].OID != inside.OID {
		t.Fatalf("Pointers below proj/ = %v", tstOIDs(got))
	}
	ids, err := g.HistoryRoots(ctx, func(err error) { t.Error(err) })
	if err != nil || !tstSameSet(ids, []objects.ID{inside.OID}) {
		t.Fatalf("HistoryRoots below proj/ = %v, %v", ids, err)
	}
}

func TestOpenOutsideARepository(t *testing.T) {
	t.Parallel()
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNoGit) {
		t.Fatalf("OpenGit outside git: %v, want ErrNoGit", err)
	}
}

func tstSameSet(got, want []objects.ID) bool {
	set := func(ids []objects.ID) map[objects.ID]bool {
		m := map[objects.ID]bool{}
		for _, id := range ids {
			m[id] = true
		}
		return m
	}
	return maps.Equal(set(got), set(want))
}
