package dvcli

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/dv-ml/dv/objects/workspace"
	"github.com/dv-ml/dv/refs"
	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/local"
	"github.com/dv-ml/dv/remote/s3"
)

// openRemote builds the store for a configured remote: the registry of
// remote kinds is this function.
func openRemote(ctx context.Context, root string, rc workspace.RemoteConfig, create bool) (remote.Store, error) {
	if strings.HasPrefix(rc.URL, "s3://") {
		return s3.New(ctx, s3.Options{URL: rc.URL, Endpoint: rc.Endpoint, Region: rc.Region, PathStyle: rc.PathStyle})
	}
	p := strings.TrimPrefix(rc.URL, "file://")
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p) // relative to the project, as in dv.yaml
	}
	return local.New(p, create)
}

// syncer opens the project's named (or default) remote.
func syncer(ctx context.Context, r *workspace.Repo, name string, jobs int, create bool) (*remote.Syncer, string, error) {
	cfg, err := workspace.LoadConfig(r.Root)
	if err != nil {
		return nil, "", err
	}
	name, rc, err := cfg.Remote(name)
	if err != nil {
		return nil, "", usageError{err}
	}
	st, err := openRemote(ctx, r.Root, rc, create)
	if err != nil {
		return nil, "", fmt.Errorf("remote %s: %w", name, err)
	}
	if jobs <= 0 {
		jobs = 8
	}
	return &remote.Syncer{Local: r.Store, Remote: st, Jobs: jobs,
		CacheDir: filepath.Join(r.Dir, "remotes", name)}, name, nil
}

func localRefs(r *workspace.Repo) *refs.Store { return r.Refs() }

// redactURL removes any userinfo from a URL before it is printed. A URL
// that does not parse may hold one all the same (a password with '/' in
// it hides the user part from url.Parse): then everything from the scheme
// to the last '@' goes.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if scheme, rest, ok := strings.Cut(s, "://"); ok {
			if i := strings.LastIndex(rest, "@"); i >= 0 {
				return scheme + "://" + rest[i+1:]
			}
		}
		return s
	}
	if u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
