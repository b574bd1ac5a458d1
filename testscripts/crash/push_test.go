package crash

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dv-ml/dv/objects"
)

// ---- the projects of the remote scenarios ----

// remoteBase holds what the push and pull scenarios copy. Every project
// names its folder remote "shelf" at ../shelf, so that a copy at DIR/a
// pushes to DIR/shelf and a git clone at DIR/clone pulls from it.
type remoteBase struct {
	data, feat string // expected content of the two tracked directories
	a          string // project A: data and feat added and committed, nothing pushed
	b          string // project B: "shared", a subset of A's data, added
	partial    string // a folder remote holding B's push of shared
	full       string // a folder remote holding A's complete push
	pullClone  string // a git clone of A, without .dv (pulls from ../shelf)
	refs       map[string]objects.ID
	partialSt  remoteState
}

const sharedSubset = "img/00 big/00.bin csv/part-000.csv csv/part-001.csv csv/part-002.csv"

func (d *dataset) remote(t *testing.T) *remoteBase {
	t.Helper()
	if d.rem != nil {
		return d.rem
	}
	if d.remFailed {
		t.Fatal("remote projects could not be built (see above)")
	}
	d.remFailed = true
	start := time.Now()
	root := filepath.Join(d.root, "remote")
	rb := &remoteBase{data: filepath.Join(root, "expect-data"), feat: filepath.Join(root, "expect-feat")}
	makeSmall(newGen(t, d.seed, "small"), rb.data)
	makeFeat(newGen(t, d.seed, "feat"), rb.feat)

	rb.a = filepath.Join(root, "ra", "a")
	newProject(t, rb.a)
	mustDV(t, rb.a, "remote", "add", "shelf", "../shelf", "--default")
	copyTree(t, rb.data, filepath.Join(rb.a, "data"), nil)
	copyTree(t, rb.feat, filepath.Join(rb.a, "feat"), nil)
	mustDV(t, rb.a, "add", "data")
	mustDV(t, rb.a, "add", "feat")
	mustGit(t, rb.a, "add", "-A")
	mustGit(t, rb.a, "commit", "-q", "-m", "data and feat")
	rb.refs = localRefIDs(t, rb.a)

	rb.b = filepath.Join(root, "rb", "b")
	newProject(t, rb.b)
	mustDV(t, rb.b, "remote", "add", "shelf", "../shelf", "--default")
	for _, rel := range strings.Fields(sharedSubset) {
		src := filepath.Join(rb.data, filepath.FromSlash(rel))
		dst := filepath.Join(rb.b, "shared", filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(src); err == nil && fi.IsDir() {
			copyTree(t, src, dst, nil)
		} else if err := copyFile(src, dst, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustDV(t, rb.b, "add", "shared")
	mustGit(t, rb.b, "add", "-A")
	mustGit(t, rb.b, "commit", "-q", "-m", "shared")
	bp := filepath.Join(root, "rb-push", "b")
	cloneProject(t, rb.b, bp)
	mustDV(t, bp, "push", "-r", "shelf")
	rb.partial = filepath.Join(root, "rb-push", "shelf")
	rb.partialSt = inspectRemote(t, folderStore{rb.partial})

	ap := filepath.Join(root, "rf", "a")
	cloneProject(t, rb.a, ap)
	mustDV(t, ap, "push", "-r", "shelf")
	rb.full = filepath.Join(root, "rf", "shelf")
	rb.pullClone = filepath.Join(root, "rf", "clone")
	mustGit(t, filepath.Dir(rb.pullClone), "clone", "-q", rb.a, "clone")
	t.Logf("remote projects: data %s, feat %s; B's shared on a remote: %v; A pushed: %v (built in %v)",
		treeSize(t, rb.data), treeSize(t, rb.feat), rb.partialSt, inspectRemote(t, folderStore{rb.full}),
		time.Since(start).Round(time.Millisecond))
	d.rem, d.remFailed = rb, false
	return rb
}

func treeSize(t testing.TB, dir string) string {
	m, err := scanTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	files := 0
	for _, e := range m {
		if e.kind == "file" {
			n += e.size
			files++
		}
	}
	return fmt.Sprintf("%d files, %s", files, mib(n))
}

// localRefIDs reads a project's dv refs.
func localRefIDs(t testing.TB, proj string) map[string]objects.ID {
	t.Helper()
	out, err := readRefs(proj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readRefs(proj string) (map[string]objects.ID, error) {
	out := map[string]objects.ID{}
	root := filepath.Join(proj, ".dv", "refs")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasSuffix(p, ".lock") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		id, err := objects.ParseID(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("ref %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = id
		return nil
	})
	return out, err
}

// ---- scenario: dv push ----

// pushTarget is where a push scenario pushes: the folder remote shelf, or
// a fresh bucket on the S3 test server per iteration.
type pushTarget struct {
	name     string // the remote's name in dv.yaml
	endpoint string // S3 only
	client   *awss3.Client
}

func (pt pushTarget) s3() bool { return pt.client != nil }

// pushSetup is one prepared push: the project, the remote, and how to
// make a fresh clone that reads the same remote.
type pushSetup struct {
	proj  string
	store blobStore
	clone func(t *testing.T, dst string)
}

// prepare copies A to dir/a and makes the remote: empty, or holding B's
// push of shared (partial: A's push then repacks the objects the remote
// lacks out of packs that hold some it has).
func (pt pushTarget) prepare(t *testing.T, rb *remoteBase, dir string, partial bool) pushSetup {
	t.Helper()
	ps := pushSetup{proj: filepath.Join(dir, "a")}
	cloneProject(t, rb.a, ps.proj)
	if !pt.s3() {
		shelf := filepath.Join(dir, "shelf")
		if partial {
			copyTree(t, rb.partial, shelf, nil)
		} else if err := os.MkdirAll(shelf, 0o755); err != nil {
			t.Fatal(err)
		}
		ps.store = folderStore{shelf}
		ps.clone = func(t *testing.T, dst string) {
			t.Helper()
			mustGit(t, filepath.Dir(dst), "clone", "-q", rb.a, filepath.Base(dst))
		}
		return ps
	}
	bucket := newBucket(t, pt.client, "dv-crash")
	url := "s3://" + bucket + "/team"
	addRemote := func(t *testing.T, proj string) {
		t.Helper()
		mustDV(t, proj, "remote", "add", pt.name, url, "--endpoint", pt.endpoint, "--path-style")
	}
	addRemote(t, ps.proj)
	if partial {
		bp := filepath.Join(dir, "b")
		cloneProject(t, rb.b, bp)
		addRemote(t, bp)
		mustDV(t, bp, "push", "-r", pt.name)
	}
	ps.store = s3Store{c: pt.client, bucket: bucket, prefix: "team/"}
	ps.clone = func(t *testing.T, dst string) {
		t.Helper()
		mustGit(t, filepath.Dir(dst), "clone", "-q", rb.a, filepath.Base(dst))
		addRemote(t, dst)
	}
	return ps
}

// pushWatch: the folder remote (all of it) and the project's remote cache.
func pushWatch(ps pushSetup) *watchSpec {
	fs, ok := ps.store.(folderStore)
	if !ok {
		return nil // S3: kills are timed only
	}
	return &watchSpec{flat: []string{filepath.Join(ps.proj, ".dv")},
		trees: []string{fs.root, filepath.Join(ps.proj, ".dv", "remotes")}}
}

// pushState names what a killed push left on the remote.
func pushState(st, before remoteState, refs map[string]objects.ID) string {
	var parts []string
	if len(st.temps) > 0 {
		parts = append(parts, "temp file")
	}
	if len(st.pushLocks) > 0 {
		parts = append(parts, "push lock")
	}
	if st.unindexed > before.unindexed {
		parts = append(parts, "unindexed packs")
	}
	if st.indexFiles > before.indexFiles {
		parts = append(parts, "index")
	}
	n := 0
	for name, id := range refs {
		if st.refs[name] == id {
			n++
		}
	}
	if n > 0 {
		parts = append(parts, fmt.Sprintf("refs %d/%d", n, len(refs)))
	}
	if len(st.refLocks)+len(st.putLocks) > 0 {
		parts = append(parts, "lock file")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "+")
}

var lockedMsg = regexp.MustCompile(`(?i)remote is locked`)

func crashPush(pt pushTarget) func(*testing.T, *dataset, int, *tally) {
	return func(t *testing.T, d *dataset, n int, ta *tally) {
		rb := d.remote(t)
		modes := []string{"empty remote", "partial remote"}
		cals := make([]calib, len(modes))
		for m, mode := range modes {
			dir := filepath.Join(workDir, ta.name+"-calib")
			ps := pt.prepare(t, rb, dir, m == 1)
			o := runKilled(ps.proj, killPlan{never: true}, pushWatch(ps), "push", "-r", pt.name)
			if o.code != 0 {
				t.Fatalf("calibration (%s): %v", mode, o.res)
			}
			st := inspectRemote(t, ps.store)
			remoteSound(t, st, ps.proj, "calibration")
			cals[m] = calib{dur: o.dur, events: o.events}
			t.Logf("%s: an uninterrupted push to the %s takes %v: %s; remote %v", ta.name, mode, cals[m],
				oneLine(o.stdout), st)
			_ = os.RemoveAll(dir)
		}

		iterate(t, ta, n, func(t *testing.T, i int, dir string) {
			m := i % len(modes)
			perMode := (n - m + len(modes) - 1) / len(modes)
			r := iterRand(d.seed, ta.name, i)
			plan := choosePlan(r, i/len(modes), perMode, cals[m], d.cfg.sweep)
			if cals[m].events == 0 { // timed kills only, spread over the run
				plan = choosePlan(r, 2*(i/len(modes)), 2*perMode, cals[m], false)
			}
			ps := pt.prepare(t, rb, dir, m == 1)
			before := remoteState{}
			if m == 1 {
				before = inspectRemote(t, ps.store)
			}
			o := runKilled(ps.proj, plan, pushWatch(ps), "push", "-r", pt.name)
			st := inspectRemote(t, ps.store)
			ta.record(t, plan, o, modes[m]+": "+pushState(st, before, rb.refs))
			checkPushed(t, d, ta, pt, rb, ps, dir, st)
		})
	}
}

// checkPushed checks what a killed push left, re-runs it, and checks the
// result.
func checkPushed(t *testing.T, d *dataset, ta *tally, pt pushTarget, rb *remoteBase, ps pushSetup, dir string, st remoteState) {
	t.Helper()
	if r := dv(ps.proj, "fsck", "-r", pt.name); r.code != 0 {
		t.Fatalf("after the kill: dv fsck -r is not clean: %v\nremote: %v", r, st)
	}
	remoteSound(t, st, ps.proj, "after the kill (dv fsck -r passed)")
	fsckClean(t, ps.proj, "after the kill (the local store)")
	// A reader of the remote: what it fetches is whole, and every ref it
	// takes names complete data.
	reader := filepath.Join(dir, "reader")
	ps.clone(t, reader)
	if r := dv(reader, "fetch", "-r", pt.name); r.code != 0 {
		t.Fatalf("after the kill: a fresh clone's dv fetch: %v", r)
	}
	fsckClean(t, reader, "after the kill: a fresh clone that fetched")
	refsSound(t, reader, "", "after the kill: a fresh clone that fetched")
	_ = os.RemoveAll(reader)
	if len(st.temps) > 0 {
		ta.notes["temp file left on the folder remote (no dv command removes it)"]++
		t.Logf("left on the remote: %v", st.temps)
	}
	if len(st.putLocks) > 0 {
		// Harmless: lock blobs have random names, never written again.
		ta.notes["lock file of a lock blob's PutIf left on the folder remote"]++
		t.Logf("left on the remote: %v", st.putLocks)
	}

	killed := st.pushLocks
	if len(st.refLocks) > 0 {
		// A folder remote's ref lock (PutIf's refs/NAME.lock) outlives a
		// killed push: the next push of that ref waits until it is a
		// minute old. Make it that old rather than wait (DV_CRASH_STRICT:
		// wait, and fail if the re-run is slow).
		if !d.cfg.strict {
			ta.known["remote ref lock left by the kill: the next push waits until it is a minute old"]++
			for _, l := range st.refLocks {
				if !ps.store.backdate(l, 2*time.Minute) {
					t.Fatalf("cannot backdate %s", l)
				}
			}
		}
	}
	// The re-run completes (with a guard: a hang is a failure, not a stuck test).
	rr := runKilled(ps.proj, killPlan{delay: 90 * time.Second}, nil, "push", "-r", pt.name)
	if rr.killed || rr.code != 0 {
		t.Fatalf("re-run (killed by the harness: %v): %v\nremote after the kill: %v", rr.killed, rr.res, st)
	}
	if rr.dur > 20*time.Second {
		t.Fatalf("re-run took %v (a lock left by the kill?): %v", rr.dur, rr.res)
	}
	after := inspectRemote(t, ps.store)
	remoteSound(t, after, ps.proj, "after the re-run")
	for name, id := range rb.refs {
		if after.refs[name] != id {
			t.Fatalf("after the re-run: remote ref %s is %s, want %s", name, after.refs[name].Short(), id.Short())
		}
	}
	if r := mustDV(t, ps.proj, "push", "-r", pt.name); !strings.Contains(r.stdout, "is up to date") {
		t.Fatalf("after the re-run, a push still finds work: %v", r)
	}
	if r := dv(ps.proj, "fsck", "-r", pt.name); r.code != 0 {
		t.Fatalf("after the re-run: dv fsck -r: %v", r)
	}
	for _, l := range after.pushLocks {
		if !slices.Contains(killed, l) {
			t.Fatalf("after the re-run: push lock %s left behind (the killed push left %v)", l, killed)
		}
	}
	for _, l := range after.refLocks {
		// The kill's own may stay: a ref that needed no update keeps it.
		if !slices.Contains(st.refLocks, l) {
			t.Fatalf("after the re-run: ref lock %s left behind: %v", l, after)
		}
	}
	if len(after.gcLocks) > 0 {
		t.Fatalf("after the re-run: gc lock left behind: %v", after)
	}

	// Remote gc: documented to refuse while a push lock younger than 30
	// minutes exists, so a killed push blocks it until then.
	gcArgs := []string{"gc", "-r", pt.name, "--workspace", "--grace", "0s"}
	g := dv(ps.proj, gcArgs...)
	if len(killed) > 0 {
		switch {
		case g.code == 0:
			ta.notes["dv gc -r ran although the killed push's lock was there"]++
		case lockedMsg.MatchString(g.stderr):
			ta.notes["the killed push's lock blocked dv gc -r (documented: for 30 minutes)"]++
			t.Logf("dv gc -r refused, as documented: %s", strings.TrimSpace(g.stderr))
			for _, l := range killed {
				if !ps.store.backdate(l, 31*time.Minute) {
					// S3: no way to age it; do what the message says.
					if err := ps.store.remove(l); err != nil {
						t.Fatal(err)
					}
				}
			}
			g = dv(ps.proj, gcArgs...)
		}
	}
	if g.code != 0 {
		t.Fatalf("dv gc -r: %v", g)
	}
	gcd := inspectRemote(t, ps.store)
	remoteSound(t, gcd, ps.proj, "after dv gc -r")
	if gcd.unindexed > 0 {
		t.Fatalf("dv gc -r --grace 0s left unindexed packs: %v", gcd)
	}
	if r := dv(ps.proj, "fsck", "-r", pt.name); r.code != 0 {
		t.Fatalf("after dv gc -r: dv fsck -r: %v", r)
	}

	// A fresh clone pulls every byte.
	clone := filepath.Join(dir, "clone")
	ps.clone(t, clone)
	if r := dv(clone, "pull", "-r", pt.name); r.code != 0 {
		t.Fatalf("a fresh clone's dv pull: %v", r)
	}
	if err := compareTrees(filepath.Join(clone, "data"), rb.data); err != nil {
		t.Fatalf("a fresh clone's pull: %v", err)
	}
	if err := compareTrees(filepath.Join(clone, "feat"), rb.feat); err != nil {
		t.Fatalf("a fresh clone's pull: %v", err)
	}
	fsckClean(t, clone, "a fresh clone after its pull")
	got := localRefIDs(t, clone)
	for name, id := range rb.refs {
		if got[name] != id {
			t.Fatalf("a fresh clone's pull: ref %s is %s, want %s", name, got[name].Short(), id.Short())
		}
	}
}

// ---- scenario: dv pull ----

func pullState(clone string) string {
	var parts []string
	if _, err := os.Stat(filepath.Join(clone, ".dv")); err != nil {
		return "no store"
	}
	st := inspectStore(clone)
	if st.tmpFiles > 0 {
		parts = append(parts, "temp pack")
	}
	if st.unindexed > 0 {
		parts = append(parts, "unindexed pack")
	}
	if st.packs > st.unindexed {
		parts = append(parts, "indexed packs")
	}
	if len(findNamed(clone, ".dv-checkout-")) > 0 {
		parts = append(parts, "checkout temps")
	}
	for _, p := range []string{"data", "feat"} {
		if _, err := os.Stat(filepath.Join(clone, p)); err == nil {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "empty store"
	}
	return strings.Join(parts, "+")
}

// pullWatch counts the changes of the store (made by the fetch) and of the
// clone's root, not the data checked out: the event kills land while the
// fetch stores objects and moves refs, the timed ones mostly in the
// checkout that follows.
func pullWatch(clone string) *watchSpec {
	return &watchSpec{flat: []string{clone}, trees: []string{filepath.Join(clone, ".dv")}}
}

// preparePull makes dir/clone, a fresh git clone of A whose remote dir/shelf
// is (a symlink to) the remote A pushed to.
func preparePull(t *testing.T, rb *remoteBase, dir string) string {
	t.Helper()
	clone := filepath.Join(dir, "clone")
	copyTree(t, rb.pullClone, clone, nil)
	if err := os.Symlink(rb.full, filepath.Join(dir, "shelf")); err != nil {
		t.Fatal(err)
	}
	return clone
}

func crashPull(t *testing.T, d *dataset, n int, ta *tally) {
	rb := d.remote(t)
	cal := filepath.Join(workDir, "pull-calib")
	clone := preparePull(t, rb, cal)
	o := runKilled(clone, killPlan{never: true}, pullWatch(clone), "pull")
	if o.code != 0 {
		t.Fatalf("calibration: %v", o.res)
	}
	for _, p := range []struct{ sub, want string }{{"data", rb.data}, {"feat", rb.feat}} {
		if err := compareTrees(filepath.Join(clone, p.sub), p.want); err != nil {
			t.Fatalf("calibration: %v", err)
		}
	}
	c := calib{dur: o.dur, events: o.events}
	t.Logf("pull: an uninterrupted dv pull into a fresh clone takes %v: %s; store %v", c,
		oneLine(o.stdout), inspectStore(clone))
	_ = os.RemoveAll(cal)

	iterate(t, ta, n, func(t *testing.T, i int, dir string) {
		plan := choosePlan(iterRand(d.seed, "pull", i), i, n, c, d.cfg.sweep)
		clone := preparePull(t, rb, dir)
		o := runKilled(clone, plan, pullWatch(clone), "pull")
		ta.record(t, plan, o, pullState(clone))
		if _, err := os.Stat(filepath.Join(clone, ".dv")); err == nil {
			fsckClean(t, clone, "after the kill")
			storeSound(t, inspectStore(clone), "after the kill (dv fsck passed)")
			// Refs only: the pointers' records, from git, are not fetched yet.
			refsSound(t, clone, "", "after the kill")
		}
		temps := findNamed(clone, ".dv-checkout-")

		r := dv(clone, "pull")
		if r.code != 0 {
			t.Fatalf("re-run: %v", r)
		}
		for _, p := range []struct{ sub, want string }{{"data", rb.data}, {"feat", rb.feat}} {
			if err := compareTrees(filepath.Join(clone, p.sub), p.want); err != nil {
				t.Fatalf("re-run: %v", err)
			}
		}
		if r := dv(clone, "status", "--exit-code"); r.code != 0 {
			t.Fatalf("re-run: status is not clean: %v", r)
		}
		// git sees neither the store nor the data.
		if out := mustGit(t, clone, "status", "--porcelain", "--untracked-files=all"); out != "" {
			t.Fatalf("re-run: git status is not clean:\n%s", clip(out))
		}
		fsckClean(t, clone, "after the re-run")
		refsSound(t, clone, filepath.Join(clone, "data.dv"), "after the re-run")
		got := localRefIDs(t, clone)
		for name, id := range rb.refs {
			if got[name] != id {
				t.Fatalf("re-run: ref %s is %s, want %s", name, got[name].Short(), id.Short())
			}
		}
		// No temp file is left: the work tree's are failures; the store's
		// (temp and unindexed packs of the killed fetch) wait for gc, as
		// after a killed add.
		if left := findNamed(clone, ".dv-checkout-"); len(left) > 0 {
			t.Fatalf("re-run: %d checkout temp files left, e.g. %s", len(left), left[0])
		}
		if len(temps) > 0 {
			ta.notes["checkout temp files of the killed pull removed by the re-run"]++
		}
		end := inspectStore(clone)
		if end.tmpFiles > 0 {
			ta.notes["temp packs of the killed pull left until gc"]++
		}
		if end.unindexed > 0 {
			ta.notes["unindexed packs of the killed pull left until gc"]++
		}
		for _, s := range end.strays {
			ta.notes["temp file of an atomic write left behind: "+strayKind(s)]++
			t.Logf("left behind by the killed pull: %s", s)
		}
		if end.tmpFiles > 0 || end.unindexed > 0 {
			mustDV(t, clone, "gc", "--workspace")
			gcd := inspectStore(clone)
			if gcd.tmpFiles > 0 || gcd.unindexed > 0 {
				t.Fatalf("gc --workspace left temp or unindexed packs: %v", gcd)
			}
			fsckClean(t, clone, "after gc --workspace")
		}
	})
}

// oneLine joins the lines of a command's output.
func oneLine(s string) string {
	return strings.Join(strings.Split(strings.TrimSpace(s), "\n"), "; ")
}
