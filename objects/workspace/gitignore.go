package workspace

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"

	"github.com/dv-ml/dv/objects"
)

// AddIgnore makes git ignore the tracked path rel: it adds "/NAME" to the
// .gitignore next to it, as DVC does, unless the line is there already.
func AddIgnore(root, rel string) error {
	dir, name := path.Split(rel)
	if strings.ContainsAny(name, "\n\r") {
		return fmt.Errorf("%s: a name with a line break cannot be ignored by git; rename it", rel)
	}
	gi := filepath.Join(root, filepath.FromSlash(dir), ".gitignore")
	line := "/" + escapeIgnore(name)
	// Concurrent adds of different paths read, extend and replace the same
	// .gitignore: without a lock, one's line was lost and git saw that data.
	unlock := lockIgnores(root)
	defer unlock()
	old, err := os.ReadFile(gi)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, l := range strings.Split(string(old), "\n") {
		if strings.TrimSpace(l) == strings.TrimSpace(line) { // line may end in an escaped space
			return nil
		}
	}
	b := old
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, line+"\n"...)
	return objects.WriteFileAtomic(gi, b, 0o644)
}

// lockIgnores takes the project's lock on .gitignore updates (a file lock:
// a killed dv releases it). Without a store to hold it, nothing is locked.
func lockIgnores(root string) func() {
	fl := flock.New(filepath.Join(root, DirName, "gitignore.lock"))
	if err := fl.Lock(); err != nil {
		return func() {}
	}
	return func() { _ = fl.Unlock() }
}

// escapeIgnore quotes the characters gitignore patterns give a meaning.
func escapeIgnore(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case strings.ContainsRune(`*?[]\`, r), (r == '#' || r == '!') && i == 0:
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	s := b.String()
	if strings.HasSuffix(s, " ") {
		s = s[:len(s)-1] + `\ `
	}
	return s
}
