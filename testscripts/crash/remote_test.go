package crash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/zeebo/blake3"

	"github.com/dv-ml/dv/objects"
	"github.com/dv-ml/dv/remote/s3/s3test"
)

// ---- a remote as the harness sees it, without dv ----

// blob is one stored name of a remote, temporary and lock files included.
type blob struct {
	name    string
	size    int64
	modTime time.Time
}

// blobStore reads a remote directly: a folder, or an S3 bucket through the
// SDK. The harness judges what a killed dv left with it.
type blobStore interface {
	list(prefix string) ([]blob, error)
	read(name string) ([]byte, error)
	remove(name string) error
	// backdate makes a blob look d old; false when the store cannot.
	backdate(name string, d time.Duration) bool
	String() string
}

// folderStore is a folder remote.
type folderStore struct{ root string }

func (f folderStore) String() string { return f.root }

func (f folderStore) list(prefix string) ([]blob, error) {
	var out []blob
	err := filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(f.root, p)
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // deleted meanwhile
		}
		out = append(out, blob{name: rel, size: info.Size(), modTime: info.ModTime()})
		return nil
	})
	return out, err
}

func (f folderStore) read(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(f.root, filepath.FromSlash(name)))
}

func (f folderStore) remove(name string) error {
	return os.Remove(filepath.Join(f.root, filepath.FromSlash(name)))
}

func (f folderStore) backdate(name string, d time.Duration) bool {
	t := time.Now().Add(-d)
	return os.Chtimes(filepath.Join(f.root, filepath.FromSlash(name)), t, t) == nil
}

// s3Store is a prefix of an S3 bucket.
type s3Store struct {
	c      *awss3.Client
	bucket string
	prefix string // "" or ending in "/"
}

func (s s3Store) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s s3Store) list(prefix string) ([]blob, error) {
	var out []blob
	p := awss3.NewListObjectsV2Paginator(s.c, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out = append(out, blob{name: strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				size: aws.ToInt64(o.Size), modTime: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

func (s s3Store) read(name string) ([]byte, error) {
	o, err := s.c.GetObject(context.Background(), &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name)})
	if err != nil {
		return nil, err
	}
	defer o.Body.Close()
	return io.ReadAll(o.Body)
}

func (s s3Store) remove(name string) error {
	_, err := s.c.DeleteObject(context.Background(), &awss3.DeleteObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + name)})
	return err
}

func (s s3Store) backdate(string, time.Duration) bool { return false }

// ---- the S3 test server ----

// s3Endpoint returns the versitygw endpoint, "" to skip the S3 scenario,
// or an error when DV_REQUIRE_S3 is set without a server.
func s3Endpoint() (string, error) {
	if ep := os.Getenv("DV_S3_ENDPOINT"); ep != "" {
		return ep, nil
	}
	if os.Getenv("DV_REQUIRE_S3") != "" {
		return "", errors.New("DV_REQUIRE_S3 is set but DV_S3_ENDPOINT is not: start versitygw with `source .ci/s3-server.sh`")
	}
	return "", nil
}

// newBucket creates a fresh bucket, emptied and deleted when t ends.
func newBucket(t testing.TB, c *awss3.Client, name string) string {
	t.Helper()
	bucket, err := s3test.CreateBucket(context.Background(), c, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3test.DeleteBucket(context.Background(), c, bucket) })
	return bucket
}

// ---- what a remote holds ----

// remoteState describes a remote as a killed dv left it.
type remoteState struct {
	temps      []string // temporary files of a folder remote (.tmp-*)
	packs      int
	unindexed  int // packs no index file names
	missing    int // packs an index file names that are not there
	indexFiles int
	badIndex   int // index files that do not decode or do not match their name
	pushLocks  []string
	gcLocks    []string
	refLocks   []string // a folder remote's ref lock files (refs/NAME.lock)
	putLocks   []string // other PutIf lock files (of lock blobs: locks/push-X.lock)
	refs       map[string]objects.ID
	badRefs    []string
	index      map[objects.ID]bool // objects the index files name
}

func inspectRemote(t testing.TB, s blobStore) remoteState {
	t.Helper()
	st := remoteState{refs: map[string]objects.ID{}, index: map[objects.ID]bool{}}
	blobs, err := s.list("")
	if err != nil {
		t.Fatalf("list %s: %v", s, err)
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].name < blobs[j].name })
	named := map[string]bool{}
	packs := map[string]bool{}
	for _, b := range blobs {
		base := b.name[strings.LastIndex(b.name, "/")+1:]
		switch {
		case strings.HasPrefix(base, ".tmp-"):
			st.temps = append(st.temps, b.name)
		case strings.HasSuffix(b.name, ".lock"):
			// The lock file of a folder remote's PutIf (compare-and-swap).
			if strings.HasPrefix(b.name, "refs/") {
				st.refLocks = append(st.refLocks, b.name)
			} else {
				st.putLocks = append(st.putLocks, b.name)
			}
		case strings.HasPrefix(b.name, "locks/push-"):
			st.pushLocks = append(st.pushLocks, b.name)
		case strings.HasPrefix(b.name, "locks/gc-"):
			st.gcLocks = append(st.gcLocks, b.name)
		case strings.HasPrefix(b.name, "refs/"):
			data, err := s.read(b.name)
			id, perr := objects.ParseID(strings.TrimSpace(string(data)))
			if err != nil || perr != nil {
				st.badRefs = append(st.badRefs, b.name)
				continue
			}
			st.refs[strings.TrimPrefix(b.name, "refs/")] = id
		case strings.HasPrefix(b.name, "packs/") && isID(base):
			st.packs++
			packs[base] = true
		case strings.HasPrefix(b.name, "index/") && isID(base):
			st.indexFiles++
			data, err := s.read(b.name)
			if err != nil {
				st.badIndex++
				continue
			}
			pis, derr := objects.DecodeIndex(data)
			if derr != nil || objects.ID(blake3.Sum256(data)).String() != base {
				st.badIndex++
				continue
			}
			for _, pi := range pis {
				named[pi.Pack.String()] = true
				for _, e := range pi.Entries {
					st.index[e.ID] = true
				}
			}
		}
	}
	for p := range packs {
		if !named[p] {
			st.unindexed++
		}
	}
	for p := range named {
		if !packs[p] {
			st.missing++
		}
	}
	return st
}

func (s remoteState) String() string {
	str := fmt.Sprintf("packs=%d unindexed=%d index=%d refs=%d", s.packs, s.unindexed, s.indexFiles, len(s.refs))
	if len(s.temps) > 0 {
		str += fmt.Sprintf(" temps=%d", len(s.temps))
	}
	if len(s.pushLocks)+len(s.gcLocks) > 0 {
		str += fmt.Sprintf(" locks=%v", append(append([]string(nil), s.pushLocks...), s.gcLocks...))
	}
	if len(s.refLocks) > 0 {
		str += fmt.Sprintf(" ref-locks=%v", s.refLocks)
	}
	if len(s.putLocks) > 0 {
		str += fmt.Sprintf(" put-locks=%v", s.putLocks)
	}
	if s.missing > 0 {
		str += fmt.Sprintf(" MISSING-PACKS=%d", s.missing)
	}
	if s.badIndex > 0 {
		str += fmt.Sprintf(" BAD-INDEX=%d", s.badIndex)
	}
	if len(s.badRefs) > 0 {
		str += fmt.Sprintf(" BAD-REFS=%v", s.badRefs)
	}
	return str
}

// remoteSound checks, without dv, that a remote's index files decode and
// name packs that exist, that its refs parse, and that every object a
// ref reaches (computed in the store of proj, which holds them all) is
// named by the remote's index: a reader never sees a ref naming missing
// data.
func remoteSound(t testing.TB, st remoteState, proj, when string) {
	t.Helper()
	if st.missing > 0 || st.badIndex > 0 || len(st.badRefs) > 0 {
		t.Fatalf("%s: remote damaged: %v", when, st)
	}
	if len(st.refs) == 0 {
		return
	}
	store, err := objects.Open(filepath.Join(proj, ".dv"))
	if err != nil {
		t.Fatalf("%s: open store: %v", when, err)
	}
	defer store.Close()
	for _, name := range slices.Sorted(maps.Keys(st.refs)) {
		id := st.refs[name]
		if !store.Has(id) {
			continue // another project's ref: its data is checked by a fetch
		}
		reach, err := store.Reachable(context.Background(), []objects.ID{id})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		n := 0
		var first objects.ID
		for o := range reach {
			if !st.index[o] {
				if n == 0 {
					first = o
				}
				n++
			}
		}
		if n > 0 {
			t.Fatalf("%s: remote ref %s names %s, which reaches %d objects the remote's index lacks (e.g. %s)",
				when, name, id.Short(), n, first.Short())
		}
	}
}
