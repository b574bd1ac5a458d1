package train

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects/pointer"
	"github.com/dv-ml/dv/objects/workspace"
)

// CodeState is the code a run sees: every file git tracks below the
// project root with its content (git's blob id from the index, or the
// blob id git would give the work-tree file where it differs), and the
// files the command line names (so that an edit to a script not yet added
// to git changes the key too). Left out: pointer files, .gitignore files,
// .dv, and what the run itself writes (its outputs and metrics file), so
// that committing a run's results does not change the key of the next
// identical run. Untracked files are left out too, so that files a command
// writes besides its outputs do not defeat the cache.
type CodeState struct {
	Digest string            `json:"digest"` // BLAKE3 of the sorted path and content list
	Files  int               `json:"files"`  // tracked files counted
	Args   map[string]string `json:"args,omitempty"`
}

// maxArgFile bounds the files named on the command line that are hashed.
const maxArgFile = 64 << 20

// ErrNoCodeState means the state of the code cannot be told (no git
// work tree, or git is not installed): the run cache is off.
var ErrNoCodeState = errors.New("the code state is unknown (not a git work tree, or git is not installed)")

// gitTimeout bounds each git call.
const gitTimeout = 60 * time.Second

// ReadCodeState reads the code state of the work tree at root, leaving out
// the paths in exclude and everything below them.
func ReadCodeState(ctx context.Context, root string, argv, exclude []string) (*CodeState, error) {
	index, err := git(ctx, root, "ls-files", "--stage", "-z")
	if err != nil {
		return nil, err
	}
	changed, err := git(ctx, root, "diff", "--name-only", "-z", "--no-renames", "--relative")
	if err != nil {
		return nil, err
	}
	modified := map[string]bool{}
	for _, rel := range bytes.Split(changed, []byte{0}) {
		modified[string(rel)] = true
	}
	var lines []string
	for _, rec := range bytes.Split(index, []byte{0}) {
		meta, rel, ok := strings.Cut(string(rec), "\t") // "<mode> <object> <stage>\t<path>"
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || skipCodePath(rel, exclude) {
			continue
		}
		mode, id := fields[0], fields[1]
		if modified[rel] {
			mode, id = blobID(filepath.Join(root, filepath.FromSlash(rel)), len(id))
		}
		lines = append(lines, rel+"\x00"+mode+" "+id+"\n")
	}
	sort.Strings(lines)
	h := blake3.New()
	for _, l := range lines {
		_, _ = h.WriteString(l)
	}
	return &CodeState{Digest: hex.EncodeToString(h.Sum(nil)), Files: len(lines), Args: hashArgFiles(root, argv)}, nil
}

// blobID returns the mode and the blob id git would give the file at p
// (SHA-1, or SHA-256 when the index uses 64-digit ids), so that staging or
// committing an edit does not change the code state; "deleted" when it is
// gone.
func blobID(p string, idLen int) (mode, id string) {
	fi, err := os.Lstat(p)
	if err != nil {
		return "0", "deleted"
	}
	var data []byte
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		mode = "120000"
		t, err := os.Readlink(p)
		if err != nil {
			return "0", "unreadable"
		}
		data = []byte(t)
	case fi.Mode().IsRegular():
		mode = "100644"
		if fi.Mode()&0o100 != 0 {
			mode = "100755"
		}
		if data, err = os.ReadFile(p); err != nil {
			return "0", "unreadable"
		}
	default:
		return "0", "not-a-file"
	}
	h := sha1.New()
	if idLen == 64 {
		h = sha256.New()
	}
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return mode, hex.EncodeToString(h.Sum(nil))
}

// git runs a git command in dir and returns its stdout; any failure is
// ErrNoCodeState, unless ctx was cancelled.
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, ErrNoCodeState
	}
	tctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, gitPath, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrNoCodeState
	}
	return out, nil
}

func skipCodePath(rel string, exclude []string) bool {
	base := path.Base(rel)
	first, _, _ := strings.Cut(rel, "/")
	if strings.HasSuffix(rel, pointer.Ext) || base == ".gitignore" || first == workspace.DirName {
		return true
	}
	for _, x := range exclude {
		if workspace.Under(rel, x) {
			return true
		}
	}
	return false
}

// hashArgFiles hashes the regular files inside root that argv names, as
// "path" or "--flag=path", relative to root.
func hashArgFiles(root string, argv []string) map[string]string {
	var out map[string]string
	for _, a := range argv {
		for _, cand := range []string{a, a[strings.IndexByte(a, '=')+1:]} {
			p := cand
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			rel, err := filepath.Rel(root, p)
			if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxArgFile {
				continue
			}
			sum, err := hashFile(p)
			if err != nil {
				continue
			}
			if out == nil {
				out = map[string]string{}
			}
			out[filepath.ToSlash(rel)] = sum
		}
	}
	return out
}

// KeyInput is everything a run's result is assumed to depend on.
type KeyInput struct {
	Command []string
	Params  map[string]string
	Inputs  []lineage.IO // path and data id count; records do not
	Outputs []string     // declared output paths
	Model   string       // dv train: the model name and metrics file
	Code    *CodeState
}

// cacheKeyVersion changes whenever what goes into the key changes.
const cacheKeyVersion = 1

// CacheKey is the hex BLAKE3-256 of a canonical JSON encoding of the key
// input: the argv, params sorted by key, inputs sorted by path with their
// data ids, output paths sorted, the model and metrics file of dv train,
// and the code state's digest and command-line files.
func CacheKey(k KeyInput) string {
	type kv struct{ K, V string }
	canon := struct {
		V       int         `json:"v"`
		Command []string    `json:"command"`
		Params  []kv        `json:"params"`
		Inputs  []kv        `json:"inputs"`
		Outputs []string    `json:"outputs"`
		Model   string      `json:"model"`
		Code    string      `json:"code"`
		Args    [][2]string `json:"args"`
	}{V: cacheKeyVersion, Command: k.Command, Params: []kv{}, Inputs: []kv{}, Outputs: append([]string{}, k.Outputs...), Model: k.Model}
	for _, p := range slices.Sorted(maps.Keys(k.Params)) {
		canon.Params = append(canon.Params, kv{p, k.Params[p]})
	}
	for _, in := range k.Inputs {
		canon.Inputs = append(canon.Inputs, kv{in.Path, in.Data.String()})
	}
	sort.Slice(canon.Inputs, func(i, j int) bool { return canon.Inputs[i].K < canon.Inputs[j].K })
	sort.Strings(canon.Outputs)
	if k.Code != nil {
		canon.Code = k.Code.Digest
		for _, p := range slices.Sorted(maps.Keys(k.Code.Args)) {
			canon.Args = append(canon.Args, [2]string{p, k.Code.Args[p]})
		}
	}
	b, _ := json.Marshal(canon) // strings and slices always encode
	sum := blake3.Sum256(b)
	return hex.EncodeToString(sum[:])
}
