package crash

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects/pointer"
)

// ---- concurrency: several dv processes at once (no kills) ----
//
//   - One project: three dv add of different directories (the first round
//     adds them for the first time), dv gc --workspace and dv push, all
//     started together, each round after new versions of the directories
//     made the last ones garbage in packs that still hold live data.
//     Every process succeeds, or is refused with a clear busy or lock
//     message and succeeds when retried. Then: fsck clean, refs sound,
//     .gitignore names every directory, .dv/tracked names each with its
//     pointer's id, dv status reads no byte (the stat cache kept every
//     add's entries), every directory checks out byte
//     for byte, and (every other round, after a last push) a fresh clone
//     pulls every byte and dv fsck -r is clean. (In the other rounds the
//     remote is left behind, so that the next push needs objects in the
//     packs its concurrent gc rewrites.)
//   - Several clones of one project on one folder remote: each pushes a
//     new version of a directory of its own and of one they all change
//     (shared), while a reader pulls the previous round's data and runs
//     dv gc -r. Every push delivers its data; the contested ref goes to
//     exactly one clone and every other one is told of the conflict; no
//     clone's ref update is lost; a fresh clone with every clone's
//     pointers pulls every byte; dv fsck -r is clean.

// concTally counts what the concurrency tests did.
type concTally struct {
	ran       bool
	rounds    int
	procs     int // dv processes run, retries included
	failures  int // processes that failed other than with a busy/lock message, or never got through
	waited    int // runs refused with a busy or lock message (then retried)
	conflicts int // pushes told that the contested ref moved
	notes     map[string]int
	known     map[string]int
	elapsed   time.Duration
}

func (ct *concTally) String() string {
	return fmt.Sprintf("concurrency: %d rounds, %d processes, %d failures", ct.rounds, ct.procs, ct.failures)
}

// busyMsg is the message of a dv that must wait for another.
var busyMsg = regexp.MustCompile(`(?i)\bbusy\b|remote is locked|being updated|try again`)

// conflictMsg is a push's report that the contested ref moved on the
// remote (refs.ErrConflict).
var conflictMsg = regexp.MustCompile(`ref datasets/shared on .*: ref changed concurrently`)

// proc is one dv process of a round.
type proc struct {
	label string
	dir   string
	args  []string
	tries []res
}

func (p *proc) last() res { return p.tries[len(p.tries)-1] }

// runTogether starts every proc at once; one refused with a busy or lock
// message is retried after a short random pause, up to 20 times.
func runTogether(ps []*proc, ct *concTally) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for try := 0; try < 20; try++ {
				r := dv(p.dir, p.args...)
				p.tries = append(p.tries, r)
				if r.code == 0 || !busyMsg.MatchString(r.stderr) {
					return
				}
				time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, p := range ps {
		ct.procs += len(p.tries)
		ct.waited += len(p.tries) - 1
	}
}

// judge fails the test for a process that did not get through; accept,
// when set, may accept a failure (it is counted by the caller).
func judge(t *testing.T, ct *concTally, p *proc, accept func(res) bool) {
	t.Helper()
	r := p.last()
	if len(p.tries) > 1 {
		t.Logf("%s: refused %d times with a busy/lock message, e.g. %q; then exit %d", p.label,
			len(p.tries)-1, strings.TrimSpace(p.tries[0].stderr), r.code)
	}
	if r.code == 0 || (accept != nil && accept(r)) {
		return
	}
	ct.failures++
	t.Errorf("%s failed (after %d tries): %v", p.label, len(p.tries), r)
}

func concurrency(t *testing.T, d *dataset, rounds int, ct *concTally) {
	ct.ran = true
	start := time.Now()
	t.Run("project", func(t *testing.T) { concurrentProject(t, d, rounds, ct) })
	t.Run("clones", func(t *testing.T) { concurrentClones(t, d, rounds, ct) })
	ct.rounds = rounds
	ct.elapsed = time.Since(start)
	t.Logf("%v; %d runs refused with a busy/lock message and retried, %d pushes told of a ref conflict, %v",
		ct, ct.waited, ct.conflicts, ct.elapsed.Round(time.Millisecond))
	if len(ct.notes) > 0 {
		t.Logf("concurrency: observations: %s", histogram(ct.notes))
	}
	if len(ct.known) > 0 {
		t.Logf("concurrency: KNOWN ISSUES met: %s", histogram(ct.known))
	}
}

// concurrentProject: 3 × dv add + dv gc --workspace + dv push in one project.
func concurrentProject(t *testing.T, d *dataset, rounds int, ct *concTally) {
	root := filepath.Join(workDir, "conc-project")
	p := filepath.Join(root, "p")
	newProject(t, p)
	mustDV(t, p, "remote", "add", "shelf", "../shelf", "--default")
	mustGit(t, p, "add", "-A")
	mustGit(t, p, "commit", "-q", "-m", "init")
	dirs := []string{"c0", "c1", "c2"}
	gens := make([]*gen, len(dirs))
	for k, c := range dirs {
		gens[k] = newGen(t, d.seed, "conc-"+c)
		makeSmallDir(gens[k], filepath.Join(p, c))
	}
	for r := range rounds {
		ok := t.Run(fmt.Sprintf("round%02d", r), func(t *testing.T) {
			exp := filepath.Join(root, fmt.Sprintf("expect-%02d", r))
			for k, c := range dirs {
				if r > 0 {
					changeSmallDir(gens[k], filepath.Join(p, c), r)
				}
				copyTree(t, filepath.Join(p, c), filepath.Join(exp, c), nil)
			}
			var ps []*proc
			for _, c := range dirs {
				ps = append(ps, &proc{label: "dv add " + c, dir: p, args: []string{"add", c}})
			}
			ps = append(ps, &proc{label: "dv gc --workspace", dir: p, args: []string{"gc", "--workspace"}},
				&proc{label: "dv push", dir: p, args: []string{"push"}})
			runTogether(ps, ct)
			for _, pr := range ps {
				judge(t, ct, pr, nil)
			}
			if t.Failed() {
				t.FailNow()
			}
			fsckClean(t, p, "after the round")
			storeSound(t, inspectStore(p), "after the round")
			refsSound(t, p, "", "after the round")
			gi, _ := os.ReadFile(filepath.Join(p, ".gitignore"))
			for _, c := range dirs {
				if !strings.Contains("\n"+string(gi), "\n/"+c+"\n") {
					ct.failures++
					t.Errorf("after the round: .gitignore lacks /%s (a lost update of concurrent adds):\n%s", c, gi)
				}
			}
			stateSound(t, ct, p, dirs, "after the round")
			for _, c := range dirs {
				ptr, err := pointer.Read(filepath.Join(p, c+pointer.Ext))
				if err != nil {
					t.Fatalf("after the round: %v", err)
				}
				if err := os.RemoveAll(filepath.Join(p, c)); err != nil {
					t.Fatal(err)
				}
				if r := dv(p, "checkout", c); r.code != 0 {
					t.Fatalf("after the round: checkout %s (%s): %v", c, ptr.OID.Short(), r)
				}
				if err := compareTrees(filepath.Join(p, c), filepath.Join(exp, c)); err != nil {
					t.Fatalf("after the round: %v", err)
				}
			}
			// Every other round leaves the remote behind, so that the next
			// round's push needs objects in packs that its gc rewrites.
			if r%2 == 0 && r < rounds-1 {
				return
			}
			// The round's push may have run before some adds: push the rest.
			mustDV(t, p, "push")
			if r := dv(p, "fsck", "-r", "shelf"); r.code != 0 {
				t.Fatalf("after the round: dv fsck -r: %v", r)
			}
			st := inspectRemote(t, folderStore{filepath.Join(root, "shelf")})
			remoteSound(t, st, p, "after the round")
			if len(st.pushLocks)+len(st.gcLocks)+len(st.refLocks) > 0 {
				t.Fatalf("after the round: locks left on the remote: %v", st)
			}
			// A fresh clone (the same pointers, no store) pulls every byte.
			v := filepath.Join(root, "v")
			_ = os.RemoveAll(v)
			copyTree(t, p, v, nil, append([]string{".dv"}, dirs...)...)
			if r := dv(v, "pull"); r.code != 0 {
				t.Fatalf("after the round: a fresh clone's pull: %v", r)
			}
			for _, c := range dirs {
				if err := compareTrees(filepath.Join(v, c), filepath.Join(exp, c)); err != nil {
					t.Fatalf("after the round: a fresh clone's pull: %v", err)
				}
			}
			fsckClean(t, v, "a fresh clone after its pull")
			_ = os.RemoveAll(v)
			_ = os.RemoveAll(exp)
		})
		if !ok {
			return
		}
	}
}

// stateSound checks that concurrent adds lost none of each other's
// updates to the project's local state: .dv/tracked names every directory
// with its pointer's id, and the stat cache vouches for every file (dv
// status reads no content).
func stateSound(t *testing.T, ct *concTally, p string, dirs []string, when string) {
	t.Helper()
	var tracked map[string]string
	b, err := os.ReadFile(filepath.Join(p, ".dv", "tracked"))
	if err == nil {
		err = json.Unmarshal(b, &tracked)
	}
	if err != nil {
		t.Fatalf("%s: .dv/tracked: %v", when, err)
	}
	for _, c := range dirs {
		ptr, err := pointer.Read(filepath.Join(p, c+pointer.Ext))
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if tracked[c] != ptr.OID.String() {
			ct.failures++
			t.Errorf("%s: .dv/tracked has %s=%q, its pointer %s (a lost update of concurrent adds)", when, c, tracked[c], ptr.OID)
		}
	}
	r := mustDV(t, p, append([]string{"--json", "status"}, dirs...)...)
	var st struct {
		BytesRead int64 `json:"bytes_read"`
		Clean     bool  `json:"clean"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("%s: dv --json status: %v\n%s", when, err, r.stdout)
	}
	if !st.Clean || st.BytesRead != 0 {
		ct.failures++
		t.Errorf("%s: dv status read %d bytes (clean %v): the stat cache lost entries of concurrent adds", when, st.BytesRead, st.Clean)
	}
}

// concurrentClones: K clones push to one remote while a reader pulls and
// collects the remote.
func concurrentClones(t *testing.T, d *dataset, rounds int, ct *concTally) {
	const k = 3
	root := filepath.Join(workDir, "conc-clones")
	hub := filepath.Join(root, "hub")
	if err := os.MkdirAll(hub, 0o755); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(root, "base")
	newProject(t, base)
	mustDV(t, base, "remote", "add", "hub", hub, "--default")
	mustGit(t, base, "add", "-A")
	mustGit(t, base, "commit", "-q", "-m", "init")
	clones := make([]string, k)
	gens := make([]*gen, k)
	for i := range clones {
		clones[i] = filepath.Join(root, fmt.Sprintf("clone%d", i))
		cloneProject(t, base, clones[i])
		gens[i] = newGen(t, d.seed, fmt.Sprintf("conc-clone%d", i))
	}
	reader := filepath.Join(root, "reader")
	cloneProject(t, base, reader)
	readerExp := "" // what the reader's pointers name (the last round's data)

	for r := range rounds {
		ok := t.Run(fmt.Sprintf("round%02d", r), func(t *testing.T) {
			exp := filepath.Join(root, fmt.Sprintf("expect-%02d", r))
			for i, c := range clones {
				own := fmt.Sprintf("own%d", i)
				if r == 0 {
					makeSmallDir(gens[i], filepath.Join(c, own))
				} else {
					changeSmallDir(gens[i], filepath.Join(c, own), r)
				}
				gens[i].write(filepath.Join(c, "shared"), "model.bin", gens[i].random(64<<10), 0o644)
				gens[i].write(filepath.Join(c, "shared"), "by.txt", []byte(fmt.Sprintf("clone %d round %d\n", i, r)), 0o644)
				mustDV(t, c, "add", own)
				mustDV(t, c, "add", "shared")
				copyTree(t, filepath.Join(c, own), filepath.Join(exp, own), nil)
				copyTree(t, filepath.Join(c, "shared"), filepath.Join(exp, fmt.Sprintf("shared%d", i)), nil)
			}
			var ps []*proc
			for i, c := range clones {
				ps = append(ps, &proc{label: fmt.Sprintf("clone %d: dv push", i), dir: c, args: []string{"push"}})
			}
			pull := &proc{label: "reader: dv pull", dir: reader, args: []string{"pull"}}
			gc := &proc{label: "reader: dv gc -r hub --workspace", dir: reader, args: []string{"gc", "-r", "hub", "--workspace"}}
			ps = append(ps, pull, gc)
			runTogether(ps, ct)

			// Every push delivers its data; the contested ref goes to one.
			winner := -1
			for i := range clones {
				p := ps[i]
				out := p.last()
				updated := strings.Contains(out.stdout, "ref datasets/shared updated")
				conflict := conflictMsg.MatchString(out.stderr)
				judge(t, ct, p, func(r res) bool { return conflict && onlyAbout(r.stderr, "datasets/shared") })
				switch {
				case updated && winner >= 0:
					t.Errorf("clones %d and %d both updated datasets/shared", winner, i)
				case updated:
					winner = i
				case conflict:
					ct.conflicts++
				default:
					t.Errorf("clone %d: its push neither updated datasets/shared nor reported a conflict: %v", i, out)
				}
			}
			judge(t, ct, pull, nil)
			judge(t, ct, gc, nil)
			if t.Failed() {
				t.FailNow()
			}
			if readerExp != "" {
				for i := range clones {
					own := fmt.Sprintf("own%d", i)
					if err := compareTrees(filepath.Join(reader, own), filepath.Join(readerExp, own)); err != nil {
						t.Fatalf("the reader's concurrent pull: %v", err)
					}
				}
			}
			st := inspectRemote(t, folderStore{hub})
			if len(st.pushLocks)+len(st.gcLocks)+len(st.refLocks) > 0 {
				t.Fatalf("after the round: locks left on the remote: %v", st)
			}
			// No lost update: every clone's own ref is on the remote, and
			// the contested one is the winner's.
			for i, c := range clones {
				own := "datasets/own" + fmt.Sprint(i)
				refs := localRefIDs(t, c)
				if st.refs[own] != refs[own] {
					t.Fatalf("lost update: remote %s is %s, clone %d pushed %s", own, st.refs[own].Short(), i, refs[own].Short())
				}
				if i == winner && st.refs["datasets/shared"] != refs["datasets/shared"] {
					t.Fatalf("lost update: remote datasets/shared is %s, clone %d was told it updated it to %s",
						st.refs["datasets/shared"].Short(), i, refs["datasets/shared"].Short())
				}
			}
			if winner < 0 && r == 0 {
				t.Fatalf("no clone updated datasets/shared")
			}

			// A fresh clone with every clone's pointers pulls every byte.
			v := filepath.Join(root, "v")
			_ = os.RemoveAll(v)
			cloneProject(t, base, v, ".dv")
			for i, c := range clones {
				own := fmt.Sprintf("own%d", i)
				if err := copyFile(filepath.Join(c, own+pointer.Ext), filepath.Join(v, own+pointer.Ext), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sharedFrom := winner
			if winner >= 0 {
				if err := copyFile(filepath.Join(clones[winner], "shared.dv"), filepath.Join(v, "shared.dv"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if r := dv(v, "pull"); r.code != 0 {
				t.Fatalf("a fresh clone's pull: %v", r)
			}
			for i := range clones {
				own := fmt.Sprintf("own%d", i)
				if err := compareTrees(filepath.Join(v, own), filepath.Join(exp, own)); err != nil {
					t.Fatalf("a fresh clone's pull: %v", err)
				}
			}
			if sharedFrom >= 0 {
				if err := compareTrees(filepath.Join(v, "shared"), filepath.Join(exp, fmt.Sprintf("shared%d", sharedFrom))); err != nil {
					t.Fatalf("a fresh clone's pull: %v", err)
				}
			}
			fsckClean(t, v, "a fresh clone after its pull")
			if r := dv(v, "fsck", "-r", "hub"); r.code != 0 {
				t.Fatalf("after the round: dv fsck -r: %v", r)
			}
			remoteSound(t, inspectRemote(t, folderStore{hub}), v, "after the round")
			// The reader takes this round's pointers for the next one.
			for i := range clones {
				own := fmt.Sprintf("own%d", i)
				_ = os.Remove(filepath.Join(reader, own+pointer.Ext))
				if err := copyFile(filepath.Join(v, own+pointer.Ext), filepath.Join(reader, own+pointer.Ext), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if readerExp != "" {
				_ = os.RemoveAll(readerExp)
			}
			readerExp = exp
			_ = os.RemoveAll(v)
		})
		if !ok {
			return
		}
	}
}

// onlyAbout reports whether every "dv:" error line of stderr names ref.
func onlyAbout(stderr, ref string) bool {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "dv:") {
			n++
			if !strings.Contains(l, ref) {
				return false
			}
		}
	}
	return n > 0
}
