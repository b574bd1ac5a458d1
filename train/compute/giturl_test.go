package compute

import "testing"

func TestCloneURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://alice:ghp_SECRET@github.com/org/repo.git":  "https://github.com/org/repo.git",
		"https://ghp_SECRET@github.com/org/repo.git":        "https://github.com/org/repo.git",
		"https://alice:pa/ss@word@example.com/org/repo.git": "https://example.com/org/repo.git",
		"HTTPS://a:b@example.com:8443/repo":                 "HTTPS://example.com:8443/repo",
		"https://github.com/org/repo.git":                   "https://github.com/org/repo.git",
		"ssh://git:SECRET@example.com/org/repo.git":         "ssh://git@example.com/org/repo.git",
		"ssh://git@example.com:2222/org/repo.git":           "ssh://git@example.com:2222/org/repo.git",
		"git@github.com:org/repo.git":                       "git@github.com:org/repo.git",
		"alice:SECRET@github.com:org/repo.git":              "github.com:org/repo.git",
		"github.com:org/repo.git":                           "github.com:org/repo.git",
		"/srv/git/repo.git":                                 "/srv/git/repo.git",
		"file:///srv/git/repo.git":                          "file:///srv/git/repo.git",
		"git://example.com/repo.git":                        "git://example.com/repo.git",
	} {
		if got := cloneURL(in); got != want {
			t.Errorf("cloneURL(%q) = %q, want %q", in, got, want)
		}
	}
}
