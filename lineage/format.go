package lineage

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dv-ml/dv/objects"
)

// Formats lists the output formats of Write.
var Formats = []string{"text", "json", "dot", "mermaid", "openlineage"}

// FormatOptions are settings some formats need.
type FormatOptions struct {
	// RepoURL locates the code for OpenLineage's source-code facet: the
	// git remote's URL, or the project's path.
	RepoURL string
}

// Write writes sg in one of Formats.
func Write(w io.Writer, sg *Subgraph, format string, opts FormatOptions) error {
	switch format {
	case "text":
		return WriteText(w, sg)
	case "json":
		return WriteJSON(w, sg)
	case "dot":
		return WriteDOT(w, sg)
	case "mermaid":
		return WriteMermaid(w, sg)
	case "openlineage":
		return WriteOpenLineage(w, sg, opts)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes sg as indented JSON: root, direction, nodes (oldest
// first, each a record with its id and refs), edges (sorted) and missing.
func WriteJSON(w io.Writer, sg *Subgraph) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sg)
}

// Title names a record for people: its name and path, a run's name, or
// an import's path.
func Title(r *Record) string {
	switch {
	case r.Name != "" && r.Path != "" && r.Name != r.Path:
		return r.Name + " (" + r.Path + ")"
	case r.Name != "":
		return r.Name
	case r.Path != "":
		return r.Path
	case len(r.Command) > 0:
		return strings.Join(r.Command, " ")
	}
	return "(unnamed)"
}

// ShortCommit is the commit a record came from, abbreviated, with
// "-dirty" when the work tree had changes, or "no commit".
func ShortCommit(r *Record) string {
	c := r.Commit
	if c == "" {
		return "no commit"
	}
	if len(c) > 8 {
		c = c[:8]
	}
	if r.Dirty {
		c += "-dirty"
	}
	return c
}

// Who is the person who wrote the record: the name, else the email.
func Who(r *Record) string {
	switch {
	case r.Who.Name != "":
		return r.Who.Name
	case r.Who.Email != "":
		return r.Who.Email
	}
	return "unknown"
}

// TimeString formats a record time for people, in UTC.
func TimeString(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// Governance returns a data version's provenance metadata as "k=v" pairs:
// source and license first, then the description, then the other keys
// sorted.
func Governance(r *Record) []string {
	var out []string
	for _, k := range []string{"source", "license"} {
		if v, ok := r.Meta[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	if r.Desc != "" {
		out = append(out, "desc="+strconv.Quote(r.Desc))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Meta)) {
		if k != "source" && k != "license" {
			out = append(out, k+"="+r.Meta[k])
		}
	}
	return out
}

// Summary says in one line what a record is about.
func Summary(r *Record) string {
	var parts []string
	switch r.Type {
	case TypeRun:
		status := r.Status
		if status == "" {
			status = "recorded"
		}
		if r.ExitCode != 0 {
			status += fmt.Sprintf(" (exit %d)", r.ExitCode)
		}
		parts = append(parts, status)
		if len(r.Command) > 0 {
			parts = append(parts, strings.Join(r.Command, " "))
		}
		if len(r.Params) > 0 {
			parts = append(parts, strings.Join(kvs(r.Params), " "))
		}
		if r.Job != nil {
			parts = append(parts, JobText(r.Job))
		}
	case TypeImport:
		parts = append(parts, "from "+r.Source)
	case TypeModel:
		if r.Number > 0 {
			parts = append(parts, fmt.Sprintf("v%d", r.Number))
		}
	case TypePromotion:
		if p := r.Promotion; p != nil {
			parts = append(parts, PromotionText(p))
		}
	case TypeDrift:
		if d := r.Drift; d != nil {
			parts = append(parts, DriftText(d))
		}
	}
	if r.Files > 0 || r.Size > 0 {
		parts = append(parts, sizeText(r))
	}
	if len(r.Metrics) > 0 {
		parts = append(parts, strings.Join(metricKVs(r.Metrics), " "))
	}
	parts = append(parts, Governance(r)...)
	return clean(strings.Join(parts, "; "))
}

func kvs(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func metricKVs(m map[string]float64) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+strconv.FormatFloat(m[k], 'g', -1, 64))
	}
	return out
}

// clean replaces control characters (a newline in a description, an
// escape sequence in a path) so that one record stays on one line.
func clean(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// sizeText is a data version's size: "3 files, 1.2 KiB", or the bytes
// alone when the file count is unknown.
func sizeText(r *Record) string {
	switch r.Files {
	case 0:
		return HumanBytes(r.Size)
	case 1:
		return "1 file, " + HumanBytes(r.Size)
	}
	return fmt.Sprintf("%d files, %s", r.Files, HumanBytes(r.Size))
}

// HumanBytes formats a byte count with binary units (1.5 MiB).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// nodeLabel is the multi-line label of a node in DOT and Mermaid: type and
// title, short id, commit.
func nodeLabel(e Entry) []string {
	lines := []string{e.Type + " " + clean(Title(e.Record)), e.ID.Short() + " · " + ShortCommit(e.Record)}
	if e.Type == TypeImport && e.Source != "" {
		lines = append(lines, "from "+clean(e.Source))
	}
	if len(e.Metrics) > 0 {
		lines = append(lines, strings.Join(metricKVs(e.Metrics), " "))
	}
	return lines
}

// JobText says where a run submitted to a compute engine ran.
func JobText(j *Job) string {
	s := fmt.Sprintf("on %s (%s job %s", j.Target, j.Engine, j.ID)
	if j.Node != "" {
		s += ", node " + j.Node
	}
	return s + ")"
}

// PromotionText describes a decision: "production: v2 -> v3 promoted
// (reason)".
func PromotionText(p *Promotion) string {
	v := func(n int, id objects.ID) string {
		switch {
		case id.IsZero():
			return "none"
		case n > 0:
			return fmt.Sprintf("v%d", n)
		}
		return id.Short()
	}
	s := fmt.Sprintf("%s: %s -> %s %s", p.Alias, v(p.FromNumber, p.From), v(p.ToNumber, p.To), p.Decision)
	if p.Reason != "" {
		s += " (" + p.Reason + ")"
	}
	return s
}

// DriftText is a drift check's verdict in one line: "DRIFT: 2 of 4
// columns (income, city)" or "no drift: 0 of 4 columns".
func DriftText(d *Drift) string {
	verdict := "no drift"
	if d.Detected {
		verdict = "DRIFT"
	}
	var cols []string
	for _, c := range d.Columns {
		if c.Drift {
			cols = append(cols, c.Column)
		}
	}
	v := fmt.Sprintf("%s: %d of %d columns", verdict, d.Drifted, d.Checked)
	if len(cols) > 0 {
		v += " (" + strings.Join(cols, ", ") + ")"
	}
	return v
}
