package dvcli

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/dv-ml/dv/objects/pointer"
)

// printGitAdd is the one hint every command that writes pointer files
// prints (dv add, dv import, dv run, dv train, dv retrain, dv job): the
// git add line for the pointer files of paths and the .gitignore files
// beside them. It prints nothing under --quiet or when paths is empty.
func printGitAdd(w io.Writer, e *env, paths []string) {
	if e.quiet || len(paths) == 0 {
		return
	}
	fmt.Fprintf(w, "To track the changes with git, run:\n\tgit add %s\n", gitAddList(paths))
}

// gitAddList names the pointer files of paths (slash-separated, from the
// project root), then the .gitignore files next to them, each once.
func gitAddList(paths []string) string {
	var list, ignores []string
	for _, p := range paths {
		list = append(list, p+pointer.Ext)
		gi := path.Join(path.Dir(p), ".gitignore")
		if !slices.Contains(ignores, gi) {
			ignores = append(ignores, gi)
		}
	}
	return strings.Join(append(list, ignores...), " ")
}
