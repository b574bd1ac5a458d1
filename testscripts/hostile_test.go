package testscripts

// Hostile remotes, end to end: a folder remote whose packs, index files,
// refs and trees were crafted by an attacker (with ids that verify where
// the attack needs them to) and the real dv binary pulling from it. Each
// input must be refused with a clear error (exit 3 for data that is not
// what it claims, 1 for a checkout dv will not do), the local store must
// stay clean, and nothing may be written outside the work tree: the whole
// scratch directory around the project is compared before and after.
//
// TestHostileRemoteMemory runs the refusals that could make dv allocate
// (enormous claims, bombs, an endless ref) inside this process, through
// dvcli.Run, and measures with runtime.MemStats what the whole command
// allocates. (The peak RSS of a child cannot be measured from here: Linux
// gives an exec'd child the parent's high-water mark.)

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/cmd/dvcli"
	"github.com/dv-ml/dv/objects"
)

// hosAllocLimit bounds what one dv command may allocate while refusing
// hostile input.
const hosAllocLimit = 64 << 20

// hosProject is a sandbox with a project "proj" (git, dv init, the folder
// remote "shelf" at ../shelf) and a folder "outside" that dv must never
// touch.
type hosProject struct {
	*sandbox
	shelf string
}

func newHosProject(t *testing.T) *hosProject {
	t.Helper()
	s := newSandbox(t)
	for _, d := range []string{"proj", "shelf/packs", "shelf/index", "shelf/refs", "outside"} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.path("outside/keep.txt"), []byte("not dv's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.run("proj", "git", "init", "-q")
	s.dv("proj", "init", "-q")
	s.dv("proj", "remote", "add", "shelf", "../shelf")
	return &hosProject{sandbox: s, shelf: s.path("shelf")}
}

// hosObj is one object of a crafted pack: id, type, compression and size
// are whatever the attacker claims.
type hosObj struct {
	id     objects.ID
	typ    objects.Type
	comp   uint8
	rawLen uint32
	stored []byte
}

func hosRaw(t objects.Type, data []byte) hosObj {
	return hosObj{id: objects.Hash(t, data), typ: t, rawLen: uint32(len(data)), stored: data}
}

// pack writes a pack of objs to the remote and returns its index entries.
func (h *hosProject) pack(objs ...hosObj) objects.PackIndex {
	h.t.Helper()
	b := objects.NewPackBuilder()
	for _, o := range objs {
		b.Add(objects.Entry{ID: o.id, Type: o.typ, Comp: o.comp, RawLen: o.rawLen}, o.stored)
	}
	data, pi := b.Finish()
	h.write("packs/"+pi.Pack.String(), data)
	return pi
}

func (h *hosProject) write(name string, data []byte) {
	h.t.Helper()
	p := filepath.Join(h.shelf, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// indexBytes stores b as an index file named by its content.
func (h *hosProject) indexBytes(b []byte) string {
	sum := blake3.Sum256(b)
	name := objects.ID(sum).String()
	h.write("index/"+name, b)
	return name
}

func (h *hosProject) index(packs ...objects.PackIndex) string {
	b, _ := objects.EncodeIndex(packs)
	return h.indexBytes(b)
}

// pointer writes proj/PATH.dv naming oid (of size bytes).
func (h *hosProject) pointer(path, typ string, oid objects.ID, size int) {
	h.t.Helper()
	p := fmt.Sprintf("version: 1\nkind: dataset\ntype: %s\noid: %s\nsize: %d\nfiles: 1\n", typ, oid, size)
	if err := os.WriteFile(h.path("proj/"+path+".dv"), []byte(p), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// hosSnapshot is the whole sandbox but dv's own directory (.dv, where a
// fetch may cache the remote's index) and HOME.
func (h *hosProject) snapshot() map[string]node {
	h.t.Helper()
	m, err := snapshotTree(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	for k := range m {
		if k == "proj/.dv" || strings.HasPrefix(k, "proj/.dv/") {
			delete(m, k)
		}
	}
	return m
}

// requireUnchanged fails unless the sandbox is as it was, but for the
// paths below the work-tree paths in written (which dv was asked to write).
func (h *hosProject) requireUnchanged(before map[string]node, what string, written ...string) {
	h.t.Helper()
	after := h.snapshot()
	for k := range after {
		for _, w := range written {
			if k == w || strings.HasPrefix(k, w+"/") {
				delete(after, k)
			}
		}
	}
	var diffs []string
	for k, a := range after {
		b, ok := before[k]
		switch {
		case !ok:
			diffs = append(diffs, k+": written")
		case a.kind != b.kind || a.exec != b.exec || !bytes.Equal(a.data, b.data):
			diffs = append(diffs, k+": changed")
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			diffs = append(diffs, k+": removed")
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		h.t.Errorf("%s changed files around the work tree:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// refused runs dv pull and requires exit code, one error line matching
// re, and nothing changed around the work tree. It returns the error line.
func (h *hosProject) refused(code int, re string) string {
	h.t.Helper()
	before := h.snapshot()
	start := time.Now()
	r := h.runEnv("proj", nil, dvBinary(h.t), "pull")
	if r.code != code {
		h.t.Fatalf("want exit %d: %v", code, r)
	}
	oneErrorLine(h.t, r, re)
	h.requireUnchanged(before, "a refused pull")
	h.t.Logf("refused in %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(r.stderr))
	return r.stderr
}

// requireEmptyStore fails unless the project's store holds nothing and
// dv fsck finds it sound.
func (h *hosProject) requireEmptyStore() {
	h.t.Helper()
	r := h.dv("proj", "fsck")
	if !strings.HasPrefix(r.stdout, "checked 0 packs, 0 objects") || r.stderr != "" {
		h.t.Errorf("the local store is not empty and clean after a refusal: %v", r)
	}
	for _, d := range []string{"packs", "tmp"} {
		if ents, _ := os.ReadDir(h.path("proj/.dv/" + d)); len(ents) > 0 {
			h.t.Errorf(".dv/%s holds %d files after a refusal", d, len(ents))
		}
	}
}

func hosEntry(b []byte, e objects.Entry) []byte {
	b = append(b, e.ID[:]...)
	b = append(b, byte(e.Type), e.Comp)
	b = binary.LittleEndian.AppendUint64(b, e.Offset)
	b = binary.LittleEndian.AppendUint32(b, e.Length)
	return binary.LittleEndian.AppendUint32(b, e.RawLen)
}

// hosBomb is one zstd frame of RLE blocks decoding to n zero bytes (a
// multiple of 128 KiB) without saying so up front.
func hosBomb(n int) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3}
	const block = 128 << 10
	for left := n; left > 0; left -= block {
		h := uint32(block)<<3 | 1<<1
		if left <= block {
			h |= 1
		}
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 0)
	}
	return b
}

// hosTree is a tree object with the given entries, as raw JSON (which
// objects.Tree would refuse to encode).
func hosTree(entries ...string) hosObj {
	return hosRaw(objects.TypeTree, []byte(`{"version":1,"entries":[`+strings.Join(entries, ",")+"]}\n"))
}

func hosFile(name string, o hosObj) string {
	n, _ := jsonString(name)
	return fmt.Sprintf(`{"name":%s,"type":"file","size":%d,"id":"%s"}`, n, o.rawLen, o.id)
}

func hosDir(name string, o hosObj) string {
	n, _ := jsonString(name)
	return fmt.Sprintf(`{"name":%s,"type":"dir","size":1,"files":1,"id":"%s"}`, n, o.id)
}

func hosLink(name, target string) string {
	n, _ := jsonString(name)
	tg, _ := jsonString(target)
	return fmt.Sprintf(`{"name":%s,"type":"symlink","size":0,"id":"%064d","target":%s}`, n, 0, tg)
}

func jsonString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// hosCase is one hostile remote: setup writes it and the pointer that
// leads dv pull to it; dv pull must exit with code and print one line
// matching re.
type hosCase struct {
	name  string
	setup func(h *hosProject) string // returns re
	code  int
	refs  bool // a ref's case: dv fsck -r does not read refs
}

// hosObjectCases are the hostile packs and index files: objects that do
// not hash to their ids, index entries claiming enormous sizes or offsets
// past the pack, decompression bombs, an index file whose content does not
// match its name, refs that are garbage or endless.
func hosObjectCases() []hosCase {
	good := []byte("good content\n")
	evil := []byte("evil content\n")
	goodID := objects.Hash(objects.TypeBlob, good)
	tree := hosTree(hosFile("a.txt", hosRaw(objects.TypeBlob, good)))
	blob := hosRaw(objects.TypeBlob, bytes.Repeat([]byte("x"), 4096))
	cases := []hosCase{
		{"object not matching its id", func(h *hosProject) string {
			h.index(h.pack(tree, hosObj{id: goodID, typ: objects.TypeBlob, rawLen: uint32(len(evil)), stored: evil}))
			h.pointer("data", "dir", tree.id, len(good))
			return `^dv: integrity error: remote object ` + goodID.String() + `: in pack [0-9a-f]{12} on \S+shelf: content does not match its id; refused\n$`
		}, 3, false},
		{"tree not matching its id", func(h *hosProject) string {
			other := hosTree(hosFile("b.txt", hosRaw(objects.TypeBlob, good)))
			h.index(h.pack(hosObj{id: tree.id, typ: objects.TypeTree, rawLen: other.rawLen, stored: other.stored}, hosRaw(objects.TypeBlob, good)))
			h.pointer("data", "dir", tree.id, len(good))
			return `^dv: integrity error: remote object ` + tree.id.String() + `: .*content does not match its id; refused\n$`
		}, 3, false},
		{"count of 2^31 entries", func(h *hosProject) string {
			pi := h.pack(blob)
			b := append([]byte("DVINDEX1"), pi.Pack[:]...)
			b = binary.LittleEndian.AppendUint32(b, 1<<31)
			name := h.indexBytes(hosEntry(b, pi.Entries[0]))
			h.pointer("big.bin", "file", blob.id, 4096)
			return `^dv: integrity error: remote index ` + name + `: truncated index: pack [0-9a-f]{12} claims 2147483648 entries\n$`
		}, 3, false},
		{"offsets past the pack", func(h *hosProject) string {
			// A tree may be 256 MiB: the index claims one, 1 GiB past
			// the end of a pack of a few hundred bytes.
			tr := hosTree()
			pi := h.pack(tr)
			pi.Entries[0].Offset += 1 << 30
			pi.Entries[0].Comp, pi.Entries[0].Length, pi.Entries[0].RawLen = 1, objects.MaxObjectSize, objects.MaxObjectSize
			h.index(pi)
			h.pointer("data", "dir", tr.id, 0)
			// Refused, but as a failed read (exit 1), not an integrity error.
			return `^dv: fetch packs/` + pi.Pack.String() + `: read packs/` + pi.Pack.String() + ` \[1073741\d+\+268435456\]: unexpected EOF\n$`
		}, 1, false},
		{"index not matching its name", func(h *hosProject) string {
			pi := h.pack(tree, hosRaw(objects.TypeBlob, good))
			b, _ := objects.EncodeIndex([]objects.PackIndex{pi})
			other, _ := objects.EncodeIndex(nil)
			name := objects.ID(blake3.Sum256(other)).String()
			h.write("index/"+name, b)
			h.pointer("data", "dir", tree.id, len(good))
			return `^dv: integrity error: remote index ` + name + `: content does not match its name\n$`
		}, 3, false},
	}
	for _, c := range []struct {
		name string
		edit func(e objects.Entry) objects.Entry
		want string
	}{
		{"RawLen of 4 GiB", func(e objects.Entry) objects.Entry { e.Comp, e.RawLen = 1, 1<<32-1; return e }, `size 4294967295 over the limit 262144`},
		{"Length of 4 GiB", func(e objects.Entry) objects.Entry { e.Comp, e.Length = 1, 1<<32-1; return e }, `stored length 4294967295 over the limit 262144`},
		{"raw object of 4 GiB", func(e objects.Entry) objects.Entry { e.Length, e.RawLen = 1<<32-1, 1<<32-1; return e }, `size 4294967295 over the limit 262144`},
		{"offset of 2^62", func(e objects.Entry) objects.Entry { e.Offset = 1 << 62; return e }, `offset 4611686018427387904 out of range`},
	} {
		cases = append(cases, hosCase{c.name, func(h *hosProject) string {
			pi := h.pack(blob)
			b := append([]byte("DVINDEX1"), pi.Pack[:]...)
			b = binary.LittleEndian.AppendUint32(b, 1)
			name := h.indexBytes(hosEntry(b, c.edit(pi.Entries[0])))
			h.pointer("big.bin", "file", blob.id, 4096)
			return `^dv: integrity error: remote index ` + name + `: pack [0-9a-f]{12}: object [0-9a-f]{12}: ` + c.want + `\n$`
		}, 3, false})
	}
	for _, rawLen := range []uint32{100, objects.ChunkMax} {
		cases = append(cases, hosCase{fmt.Sprintf("zstd bomb of 1 GiB recorded as %d bytes", rawLen), func(h *hosProject) string {
			id := objects.Hash(objects.TypeBlob, make([]byte, rawLen))
			h.index(h.pack(hosObj{id: id, typ: objects.TypeBlob, comp: 1, rawLen: rawLen, stored: hosBomb(1 << 30)}))
			h.pointer("bomb.bin", "file", id, int(rawLen))
			return `^dv: integrity error: remote object ` + id.String() + `: in pack [0-9a-f]{12} on \S+: zstd: decompressed size exceeds configured limit; refused\n$`
		}, 3, false})
	}
	// Refs: garbage, or endless.
	for _, c := range []struct {
		name  string
		write func(p string) error
		want  string
	}{
		{"ref of garbage", func(p string) error { return os.WriteFile(p, []byte("../../../outside/x\n"), 0o644) }, `invalid object id`},
		{"empty ref", func(p string) error { return os.WriteFile(p, nil, 0o644) }, `invalid object id`},
		{"ref of 64 MiB", func(p string) error { // sparse
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(64 << 20)
		}, `larger than 1024 bytes: not a ref`},
		{"ref linking to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }, `larger than 1024 bytes: not a ref`},
	} {
		cases = append(cases, hosCase{c.name, func(h *hosProject) string {
			h.index(h.pack(blob))
			h.pointer("big.bin", "file", blob.id, 4096)
			h.write("refs/datasets/good", []byte(blob.id.String()+"\n"))
			if err := c.write(filepath.Join(h.shelf, "refs", "datasets", "junk")); err != nil {
				h.t.Fatal(err)
			}
			return `^dv: integrity error: remote ref datasets/junk: ` + c.want
		}, 3, true})
	}
	return cases
}

// TestHostileRemoteObjects pulls from each hostile remote of
// hosObjectCases with the dv binary: refused by name, with the expected
// exit code, nothing stored, nothing written.
func TestHostileRemoteObjects(t *testing.T) {
	t.Parallel()
	for _, c := range hosObjectCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHosProject(t)
			h.refused(c.code, c.setup(h))
			h.requireEmptyStore()
			if c.code == 3 && !c.refs {
				// dv fsck -r finds it too.
				r := h.runEnv("proj", nil, dvBinary(t), "fsck", "-r", "shelf")
				if r.code != 3 {
					t.Errorf("fsck -r: want exit 3: %v", r)
				}
			}
		})
	}
}

// TestHostileRemoteMemory runs each refusal of hosObjectCases inside this
// process (dvcli.Run, as the dv binary would) and measures what the whole
// command allocates: under 64 MiB each. It is not parallel, so nothing
// else allocates meanwhile.
func TestHostileRemoteMemory(t *testing.T) {
	var worst uint64
	for _, c := range hosObjectCases() {
		h := newHosProject(t)
		re := c.setup(h)
		code, stderr, alloc, took := h.inProcess("pull")
		if code != c.code || !regexp.MustCompile(re).MatchString(stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.name, code, stderr, c.code, re)
		}
		if alloc > hosAllocLimit {
			t.Errorf("%s: dv pull allocated %d MiB refusing it", c.name, alloc>>20)
		}
		worst = max(worst, alloc)
		t.Logf("%s: refused in %v, %d KiB allocated", c.name, took.Round(time.Millisecond), alloc>>10)
		if c.code == 3 && !c.refs {
			code, stderr, alloc, _ := h.inProcess("fsck", "-r", "shelf")
			if code != 3 || alloc > hosAllocLimit {
				t.Errorf("%s: fsck -r: exit %d, %d MiB allocated: %s", c.name, code, alloc>>20, stderr)
			}
			worst = max(worst, alloc)
		}
	}
	t.Logf("the most one refusal allocated: %d KiB", worst>>10)
}

// inProcess runs dv ARGS in proj inside this process and returns its exit
// code, stderr, what the process allocated meanwhile and the time taken.
func (h *hosProject) inProcess(args ...string) (int, string, uint64, time.Duration) {
	h.t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(wd); err != nil {
			h.t.Fatal(err)
		}
	}()
	var out, errb bytes.Buffer
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	code := dvcli.Run(h.t.Context(), append([]string{"dv", "-C", h.path("proj")}, args...), &out, &errb)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return code, errb.String(), after.TotalAlloc - before.TotalAlloc, took
}

// TestHostileRemoteTrees: trees whose ids verify (crafted, then stored
// under their true ids) but that name ../x, an absolute path, .git, .dv,
// duplicates, or symlinks out of the work tree. dv pull refuses each with
// a clear error and writes nothing: not outside the work tree, not in it.
func TestHostileRemoteTrees(t *testing.T) {
	t.Parallel()
	payload := hosRaw(objects.TypeBlob, []byte("payload\n"))
	sub := hosTree(hosFile("../../x", payload))
	cases := []struct {
		name  string
		tree  hosObj
		extra []hosObj
		code  int
		want  string
	}{
		{"dot-dot", hosTree(hosFile("../x", payload)), nil, 3, `tree: invalid name "\.\./x": contains a slash or NUL`},
		{"dot-dot alone", hosTree(hosDir("..", hosTree(hosFile("x", payload)))), []hosObj{hosTree(hosFile("x", payload))}, 3, `tree: invalid name "\.\."`},
		{"dot", hosTree(hosFile(".", payload)), nil, 3, `tree: invalid name "\."`},
		{"absolute path", hosTree(hosFile("/tmp/x", payload)), nil, 3, `tree: invalid name "/tmp/x": contains a slash or NUL`},
		{"outside folder by path", hosTree(hosFile("../../outside/keep.txt", payload)), nil, 3, `contains a slash or NUL`},
		{".git", hosTree(hosDir(".git", hosTree(hosFile("config", payload)))), []hosObj{hosTree(hosFile("config", payload))}, 3, `tree: invalid name "\.git": reserved for git and dv`},
		{".dv", hosTree(hosDir(".dv", hosTree(hosFile("config", payload)))), []hosObj{hosTree(hosFile("config", payload))}, 3, `tree: invalid name "\.dv": reserved for git and dv`},
		{"duplicate names", hosTree(hosFile("a.txt", payload), hosFile("a.txt", payload)), nil, 3, `tree: entries not sorted or duplicate name "a\.txt"`},
		{"a file and a dir of one name", hosTree(hosDir("a", sub), hosFile("a", payload)), []hosObj{sub}, 3, `entries not sorted or duplicate name "a"`},
		{"empty name", hosTree(hosFile("", payload)), nil, 3, `tree: invalid name ""`},
		{"NUL in a name", hosTree(hosFile("a\x00b", payload)), nil, 3, `contains a slash or NUL`},
		{"backslash dot-dot", hosTree(hosFile(`..\..\x`, payload)), nil, 0, ``}, // a plain name on Linux
		{"unknown key", hosRaw(objects.TypeTree, []byte(`{"version":1,"entries":[{"name":"a","type":"file","size":8,"id":"`+payload.id.String()+`","path":"../../x"}]}`+"\n")), nil, 3, `unknown field "path"`},
		{"dot-dot one level down", hosTree(hosDir("sub", sub)), []hosObj{sub}, 3, `tree: invalid name "\.\./\.\./x"`},
		{"symlink out", hosTree(hosLink("esc", "../../outside")), nil, 1, `^dv: data/esc: symlink "\.\./\.\./outside" points outside the work tree\n$`},
		{"symlink out, one level down", hosTree(hosDir("d", hosTree(hosLink("esc", "../../../outside/keep.txt")))), []hosObj{hosTree(hosLink("esc", "../../../outside/keep.txt"))}, 1, `^dv: data/d/esc: symlink "\.\./\.\./\.\./outside/keep\.txt" points outside the work tree\n$`},
		{"symlink absolute", hosTree(hosLink("abs", "/etc/passwd")), nil, 1, `^dv: data/abs: symlink to absolute path "/etc/passwd" is not allowed\n$`},
		{"symlink through a name", hosTree(hosLink("l", "x/../../../outside")), nil, 1, `symlink "x/\.\./\.\./\.\./outside" (points outside the work tree|has "\.\." after a name)`},
		{"symlink to .git", hosTree(hosLink("g", "../.git")), nil, 0, ``}, // inside the work tree: a link, not followed
		{"file with a target", hosRaw(objects.TypeTree, []byte(`{"version":1,"entries":[{"name":"a","type":"file","size":8,"id":"`+payload.id.String()+`","target":"../../x"}]}`+"\n")), nil, 3, `tree: "a": target on a file`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHosProject(t)
			h.index(h.pack(append([]hosObj{c.tree, payload}, c.extra...)...))
			h.pointer("data", "dir", c.tree.id, 8)
			before := h.snapshot()
			if c.code == 0 {
				r := h.dv("proj", "pull")
				t.Logf("accepted: %s", strings.TrimSpace(r.stdout))
				h.requireUnchanged(before, "the pull", "proj/data")
				return
			}
			line := h.refused(c.code, c.want)
			if c.code == 3 && !strings.Contains(line, "dv: integrity error: tree ") {
				t.Errorf("the error does not name the tree: %s", line)
			}
			// A second try (the tree may now be stored) refuses it again.
			r := h.runEnv("proj", nil, dvBinary(t), "checkout")
			if r.code == 0 {
				t.Errorf("checkout after the refused pull succeeded: %v", r)
			}
			h.requireUnchanged(before, "a checkout after the refused pull")
			if _, err := os.Lstat(h.path("proj/data")); err == nil {
				t.Error("proj/data was written")
			}
		})
	}
}

// TestHostileRemoteCaseOnlyNames: two names differing only in case are
// two files on a case-sensitive filesystem (as here): both round-trip
// byte for byte through push and pull. (On a case-insensitive one they
// would be one file; dv does not refuse such trees.)
func TestHostileRemoteCaseOnlyNames(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.run(".", "git", "init", "-q", "--bare", "origin.git")
	s.run(".", "git", "clone", "-q", "origin.git", "a")
	s.dv("a", "init", "-q")
	s.dv("a", "remote", "add", "shelf", "../shelf")
	files := map[string]string{"data/A.txt": "upper\n", "data/a.txt": "lower, longer\n", "data/Sub/x": "1\n", "data/sub/x": "2\n", "data/SUB/X": "3\n"}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(s.path("a/"+p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.path("a/"+p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.dv("a", "add", "data")
	s.dv("a", "push")
	s.commitAndPushGit("a", "case")
	s.run(".", "git", "clone", "-q", "origin.git", "b")
	s.dv("b", "init", "-q")
	s.dv("b", "pull")
	sameTree(t, s.path("a/data"), s.path("b/data"))
	for p, c := range files {
		b, err := os.ReadFile(s.path("b/" + p))
		if err != nil || string(b) != c {
			t.Errorf("%s: %q, %v; want %q", p, b, err, c)
		}
	}
	r := s.dv("b", "ls", "data")
	t.Logf("dv ls of names differing only in case:\n%s", r.stdout)
}

// TestHostileRemoteRefs: refs on a folder remote with names that are not
// ref names are ignored, and one naming data the remote lacks is not
// applied, so the local store stays sound. (Refs of garbage, or endless,
// are in hosObjectCases.)
func TestHostileRemoteRefs(t *testing.T) {
	t.Parallel()
	h := newHosProject(t)
	payload := hosRaw(objects.TypeBlob, []byte("payload\n"))
	h.index(h.pack(payload))
	h.pointer("p.txt", "file", payload.id, 8)
	h.write("refs/datasets/good", []byte(payload.id.String()+"\n"))
	for _, n := range []string{".hidden", "datasets/.x", "x.lock", "a b", "datasets/é", "datasets/a:b", "datasets/x.lock/y", "-", "~"} {
		h.write("refs/"+n, []byte(payload.id.String()+"\n"))
	}
	h.write("refs/datasets/ghost", []byte(strings.Repeat("7", 64)+"\n"))
	before := h.snapshot()
	r := h.dv("proj", "pull")
	h.requireUnchanged(before, "a pull", "proj/p.txt")
	var got []string
	for _, dir := range []string{"proj/.dv/refs", "proj/.dv/remotes/shelf/refs"} {
		_ = filepath.WalkDir(h.path(dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(h.path("proj/.dv"), p)
				got = append(got, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	want := []string{"refs/-", "refs/datasets/good", "remotes/shelf/refs/-", "remotes/shelf/refs/datasets/good"} // "-" is a valid name
	if !slices.Equal(got, want) {
		t.Errorf("refs written by the pull: %q, want %q", got, want)
	}
	if !strings.Contains(r.stderr, "ref datasets/ghost on shelf names 777777777777, which neither side holds") {
		t.Errorf("no warning for the ref naming missing data: %v", r)
	}
	if r := h.dv("proj", "fsck"); r.stderr != "" {
		t.Errorf("fsck after pulling hostile refs: %v", r)
	}
}
