package objects

import "testing"

// Names that are .git or .dv in any case are refused: on a case-insensitive
// filesystem checkout would otherwise write a repository's config.
func TestValidNameReservedAnyCase(t *testing.T) {
	for _, n := range []string{".git", ".GIT", ".Git", ".dv", ".DV", ".Dv"} {
		if ValidName(n) == nil {
			t.Errorf("ValidName(%q) accepted", n)
		}
	}
	for _, n := range []string{".gitignore", "git", ".dvc", "a.dv"} {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q): %v", n, err)
		}
	}
}
