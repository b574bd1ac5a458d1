package gitrepo

import (
	"os"
	"path/filepath"
	"strings"
)

// HooksDir finds the hooks directory of the git repository above root
// (following the .git file of a linked work tree to the common git dir,
// where git runs hooks from). It does not need go-git.
func HooksDir(root string) (string, error) {
	for dir := root; ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, ".git")
		fi, err := os.Stat(p)
		if err == nil && fi.IsDir() {
			return filepath.Join(p, "hooks"), nil
		}
		if err == nil {
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			gd := strings.TrimSpace(strings.TrimPrefix(string(b), "gitdir:"))
			if !filepath.IsAbs(gd) {
				gd = filepath.Join(dir, gd)
			}
			// A linked work tree's git dir names the main one in
			// commondir, and git runs the hooks found there.
			if b, err := os.ReadFile(filepath.Join(gd, "commondir")); err == nil {
				cd := strings.TrimSpace(string(b))
				if !filepath.IsAbs(cd) {
					cd = filepath.Join(gd, cd)
				}
				gd = cd
			}
			return filepath.Join(gd, "hooks"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", ErrNoGit
		}
	}
}
