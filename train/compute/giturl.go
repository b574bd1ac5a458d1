package compute

import "strings"

// cloneURL is the git URL a job clones: the remote's URL without the
// credentials it may hold. A token or password in the URL would otherwise
// be written into the sbatch script or the Job, where the engine stores
// it and anyone who may read jobs sees it; the job clones with the
// cluster's own git credentials instead (SSH keys, a credential helper, a
// Secret). An ssh user name is kept (git@host:org/repo,
// ssh://git@host/org/repo), being a login and not a secret, and its
// password goes; any other user name goes, since it may be a token itself
// (https://TOKEN@host/...). The authority is taken to end at the last '@'
// of the URL, so that a password holding '/' cannot hide the user part
// (at the price of an '@' in the path, which git URLs do not have).
func cloneURL(raw string) string {
	if isLocalPath(raw) {
		return raw
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		// scp-like [user@]host:path: no password, keep a plain user.
		i := strings.LastIndex(raw, "@")
		if i < 0 {
			return raw
		}
		if user := raw[:i]; strings.ContainsAny(user, ":/") {
			return raw[i+1:]
		}
		return raw
	}
	i := strings.LastIndex(rest, "@")
	if i < 0 {
		return raw
	}
	user, host := rest[:i], rest[i+1:]
	user, _, _ = strings.Cut(user, ":") // the password
	s := strings.ToLower(scheme)
	if (s == "ssh" || s == "git+ssh" || s == "ssh+git") && user != "" && !strings.Contains(user, "/") {
		return scheme + "://" + user + "@" + host
	}
	return scheme + "://" + host
}
