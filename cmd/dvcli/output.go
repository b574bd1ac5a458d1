package dvcli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/dv-ml/dv/lineage"
)

// printJSON writes v as indented JSON.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printf writes human output unless --quiet.
func (e *env) printf(format string, args ...any) {
	if !e.quiet {
		fmt.Fprintf(e.stdout, format, args...)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bar returns a byte-counting progress callback and a function that ends
// it; both are no-ops unless progress is on.
func (e *env) bar(label string, total int64) (func(int64), func()) {
	if !e.progress {
		return nil, func() {}
	}
	if total <= 0 {
		total = -1
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100e6),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
	)
	return func(n int64) { _ = b.Add64(n) }, func() { _ = b.Finish() }
}

// humanBytes formats a byte count as the lineage formats do.
func humanBytes(n int64) string { return lineage.HumanBytes(n) }

// pathExists reports whether a command-line argument names an existing
// file, directory or pointer file.
func pathExists(p string) bool {
	if _, err := os.Lstat(p); err == nil {
		return true
	}
	_, err := os.Lstat(p + ".dv")
	return err == nil
}

// warnf prints one warning line on stderr.
func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "dv: warning: %s\n", oneLine(fmt.Sprintf(format, args...)))
}
