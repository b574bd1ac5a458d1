package crash

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dv-ml/dv/objects/pointer"
)

// ---- scenarios: dv run and dv train ----

// The commands read the tracked input raw/ (12 parts of 512 KiB) and
// write their outputs file by file with small sleeps, so that a kill
// lands while they write as often as while dv stores and records; they are
// deterministic, so a re-run's outputs must equal an uninterrupted run's.
const (
	// dv run: out/ gets two transforms of each part (12 MiB).
	runScript = `set -e
rm -rf out
mkdir out
for f in raw/part-*.bin; do
  b=$(basename "$f" .bin)
  tr '\000-\377' '\200-\377\000-\177' < "$f" > "out/$b.a"
  sleep 0.02
  tr '\000-\377' '\001-\377\000' < "$f" > "out/$b.b"
  sleep 0.02
done
n=$(ls out | wc -l)
echo "$n files" > out/count.txt`
	// dv train: model/ gets one transform per part (6 MiB), then the
	// metrics file.
	trainScript = `set -e
rm -rf model metrics.json
mkdir model
for f in raw/part-*.bin; do
  b=$(basename "$f" .bin)
  tr '\000-\377' '\100-\377\000-\077' < "$f" > "model/w-$b.bin"
  sleep 0.03
done
printf '{"loss": 0.125, "acc": 0.875, "val": {"rmse": 1.5}}\n' > metrics.json`
)

// runKind is dv run or dv train with its command and outputs.
type runKind struct {
	name    string   // scenario name
	args    []string // the dv command line
	out     string   // the output directory
	metrics string   // train: the metrics file
	refs    []string // refs a completed run must have moved
}

var (
	runStep = runKind{name: "run", out: "out",
		args: []string{"run", "-n", "prep", "-d", "raw", "-o", "out", "--", "sh", "-c", runScript},
		refs: []string{"runs/prep"}}
	trainStep = runKind{name: "train", out: "model", metrics: "metrics.json",
		args: []string{"train", "-n", "clf", "-d", "raw", "-o", "model", "-M", "metrics.json", "--", "sh", "-c", trainScript},
		refs: []string{"runs/clf", "models/clf", "metrics/clf"}}
)

// runBase is a committed project with raw/ tracked (the run cache needs a
// git commit for its code state).
func (d *dataset) runBase(t *testing.T) string {
	t.Helper()
	if d.runProj != "" {
		return d.runProj
	}
	p := filepath.Join(d.root, "runbase")
	newProject(t, p)
	makeRaw(newGen(t, d.seed, "raw"), filepath.Join(p, "raw"), 12)
	mustDV(t, p, "add", "raw")
	mustGit(t, p, "add", "-A")
	mustGit(t, p, "commit", "-q", "-m", "raw")
	d.runProj = p
	return p
}

// runWatch counts the store's changes only (and the outputs' directory
// created or removed in the project root): the timed kills land mostly
// while the command writes its outputs, the event kills while dv stores
// and records them.
func runWatch(proj string) *watchSpec { return storeWatch(proj) }

func runState(proj string, k runKind) string {
	var parts []string
	st := inspectStore(proj)
	if st.tmpFiles > 0 {
		parts = append(parts, "temp pack")
	}
	if st.unindexed > 0 {
		parts = append(parts, "unindexed pack")
	}
	refs, _ := readRefs(proj)
	n := 0
	for _, r := range k.refs {
		if _, ok := refs[r]; ok {
			n++
		}
	}
	for r := range refs {
		if strings.HasPrefix(r, "runcache/") {
			parts = append(parts, "cache entry")
		}
	}
	if n > 0 {
		parts = append(parts, "refs "+strconv.Itoa(n)+"/"+strconv.Itoa(len(k.refs)))
	}
	if _, err := os.Stat(filepath.Join(proj, k.out+pointer.Ext)); err == nil {
		parts = append(parts, "pointer")
	}
	if len(parts) == 0 {
		if _, err := os.Stat(filepath.Join(proj, k.out)); err == nil {
			return "outputs being written"
		}
		return "nothing"
	}
	return strings.Join(parts, "+")
}

func crashRun(k runKind) func(*testing.T, *dataset, int, *tally) {
	return func(t *testing.T, d *dataset, n int, ta *tally) {
		base := d.runBase(t)
		cal := filepath.Join(workDir, k.name+"-calib")
		cloneProject(t, base, cal)
		o := runKilledGroup(cal, killPlan{never: true}, runWatch(cal), true, k.args...)
		if o.code != 0 {
			t.Fatalf("calibration: %v", o.res)
		}
		want, err := pointer.Read(filepath.Join(cal, k.out+pointer.Ext))
		if err != nil {
			t.Fatalf("calibration: %v", err)
		}
		expect := filepath.Join(d.root, "expect-"+k.name)
		copyTree(t, filepath.Join(cal, k.out), expect, nil)
		var metrics []byte
		if k.metrics != "" {
			if metrics, err = os.ReadFile(filepath.Join(cal, k.metrics)); err != nil {
				t.Fatal(err)
			}
		}
		c := calib{dur: o.dur, events: o.events}
		t.Logf("%s: an uninterrupted dv %s takes %v (%s); store %v", k.name, k.name, c, treeSize(t, expect), inspectStore(cal))
		// An identical second run is served from the run cache: a re-run
		// after a kill may be too.
		if r := mustDV(t, cal, k.args...); !strings.Contains(r.stdout, "served from the run cache") {
			t.Fatalf("calibration: a second identical run is not served from the run cache: %v", r)
		}
		_ = os.RemoveAll(cal)

		iterate(t, ta, n, func(t *testing.T, i int, proj string) {
			plan := choosePlanEvents(iterRand(d.seed, k.name, i), i, n, c, d.cfg.sweep)
			cloneProject(t, base, proj)
			o := runKilledGroup(proj, plan, runWatch(proj), true, k.args...)
			ptr := filepath.Join(proj, k.out+pointer.Ext)
			ta.record(t, plan, o, runState(proj, k))
			fsckClean(t, proj, "after the kill")
			storeSound(t, inspectStore(proj), "after the kill (dv fsck passed)")
			refsSound(t, proj, ptr, "after the kill")
			if p, err := pointer.Read(ptr); err == nil {
				// Written last: it names the finished outputs.
				if p.OID != want.OID {
					t.Fatalf("after the kill: %s names %s, an uninterrupted run %s", filepath.Base(ptr), p.OID.Short(), want.OID.Short())
				}
			} else if _, serr := os.Stat(ptr); serr == nil {
				t.Fatalf("after the kill: pointer file is not whole: %v", err)
			}
			if locks := strayLocks(proj); len(locks) > 0 {
				t.Logf("the kill left %v", locks)
			}

			r := dv(proj, k.args...)
			if r.code != 0 {
				t.Fatalf("re-run: %v", r)
			}
			if strings.Contains(r.stdout, "served from the run cache") {
				ta.notes["re-run served from the run cache"]++
			} else {
				ta.notes["re-run executed the command"]++
			}
			p, err := pointer.Read(ptr)
			if err != nil {
				t.Fatalf("re-run: %v", err)
			}
			if p.OID != want.OID || p.Size != want.Size || p.Files != want.Files {
				t.Fatalf("re-run: %s names %s, an uninterrupted run %s", filepath.Base(ptr), p.OID.Short(), want.OID.Short())
			}
			if err := compareTrees(filepath.Join(proj, k.out), expect); err != nil {
				t.Fatalf("re-run: %v", err)
			}
			if k.metrics != "" {
				b, err := os.ReadFile(filepath.Join(proj, k.metrics))
				if err != nil || !bytes.Equal(b, metrics) {
					t.Fatalf("re-run: %s differs from an uninterrupted run's (%v): %q", k.metrics, err, b)
				}
			}
			refs := localRefIDs(t, proj)
			for _, name := range k.refs {
				if _, ok := refs[name]; !ok {
					t.Fatalf("re-run: ref %s missing", name)
				}
			}
			if k.metrics != "" {
				m := mustDV(t, proj, "--json", "metrics", "show", "clf")
				if !strings.Contains(m.stdout, `"loss": 0.125`) {
					t.Fatalf("re-run: dv metrics show clf lacks the loss: %v", m)
				}
			}
			if r := dv(proj, "status", "--exit-code"); r.code != 0 {
				t.Fatalf("re-run: status is not clean: %v", r)
			}
			fsckClean(t, proj, "after the re-run")
			refsSound(t, proj, ptr, "after the re-run")

			// What the kill left behind, and whether gc cleans it.
			if left := findNamed(filepath.Join(proj, ".dv"), "run-"); len(left) > 0 {
				ta.notes["run temp dir .dv/run-* of the killed run left"]++
			}
			mustDV(t, proj, "gc", "--workspace")
			gcd := inspectStore(proj)
			storeSound(t, gcd, "after gc --workspace")
			if gcd.tmpFiles > 0 || gcd.unindexed > 0 {
				t.Fatalf("gc --workspace left temp or unindexed packs: %v", gcd)
			}
			if left := findNamed(filepath.Join(proj, ".dv"), "run-"); len(left) > 0 {
				ta.notes["run temp dir .dv/run-* left even after gc"]++
				t.Logf("left even after gc: %v", left)
			}
			fsckClean(t, proj, "after gc --workspace")
			refsSound(t, proj, ptr, "after gc --workspace")
			// The outputs still check out from the store.
			if err := os.RemoveAll(filepath.Join(proj, k.out)); err != nil {
				t.Fatal(err)
			}
			if r := dv(proj, "checkout", k.out); r.code != 0 {
				t.Fatalf("checkout after gc: %v", r)
			}
			if err := compareTrees(filepath.Join(proj, k.out), expect); err != nil {
				t.Fatalf("checkout after gc: %v", err)
			}
		})
	}
}

// choosePlanEvents is choosePlan with two event kills to one timed kill
// (iteration i is timed when i%3 == 0): the timed kills land mostly while
// the command runs, which is quick to check and rarely interesting; the
// event kills land while dv stores and records the outputs.
func choosePlanEvents(r *rand.Rand, i, n int, c calib, sweep bool) killPlan {
	timed := (n + 2) / 3
	if i%3 == 0 || c.events == 0 {
		return choosePlan(r, 2*(i/3), 2*timed, c, false)
	}
	events := n - timed
	j := i - i/3 - 1 // the j-th event kill
	return choosePlan(r, 2*j+1, 2*events, c, sweep)
}
