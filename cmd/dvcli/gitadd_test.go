package dvcli

import "testing"

func TestGitAddList(t *testing.T) {
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{[]string{"data"}, "data.dv .gitignore"},
		{[]string{"raw/a.csv"}, "raw/a.csv.dv raw/.gitignore"},
		{[]string{"raw/a", "raw/b", "m"}, "raw/a.dv raw/b.dv m.dv raw/.gitignore .gitignore"},
	} {
		if got := gitAddList(c.paths); got != c.want {
			t.Errorf("gitAddList(%q) = %q, want %q", c.paths, got, c.want)
		}
	}
}
