package alert

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dv-ml/dv/objects/workspace"
)

// Section is the key of dv.yaml this package decodes.
const Section = "alerts"

// Target is one webhook. URL is the literal URL or env:NAME; it is a
// secret and only Send reads it. Name says where the target was configured
// (alerts[1], --notify[0]) and is what errors and output show.
type Target struct {
	Name string
	URL  string
	On   []string // the event kinds it wants; empty: all
}

// Wants reports whether the target wants events of kind.
func (t Target) Wants(kind string) bool { return len(t.On) == 0 || slices.Contains(t.On, kind) }

// entry is one item of dv.yaml's alerts: list.
type entry struct {
	URL string   `yaml:"url"`
	On  []string `yaml:"on"`
}

// FromConfig returns the targets of dv.yaml's alerts: section (cfg may be
// nil) followed by one target per --notify URL, which wants every event.
// The section is a list of {url, on} (or one such mapping); url is
// env:NAME or an http(s) URL, on a subset of Kinds. Errors name the line
// and key, never the URL; an env:NAME that is not set is an error only
// when Send needs it.
func FromConfig(cfg *workspace.Config, cliURLs []string) ([]Target, error) {
	var out []Target
	if cfg != nil {
		var list []entry
		n := cfg.Node(Section)
		var err error
		if n != nil && n.Kind == yaml.MappingNode {
			var one entry
			_, err = cfg.Section(Section, &one)
			list = []entry{one}
		} else {
			_, err = cfg.Section(Section, &list)
		}
		if err != nil {
			return nil, err
		}
		for i, e := range list {
			key := fmt.Sprintf("%s[%d]", Section, i)
			if n != nil && n.Kind == yaml.MappingNode {
				key = Section
			}
			var at *yaml.Node
			if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
				at = n.Content[i]
			} else {
				at = n
			}
			if err := checkURL(e.URL); err != nil {
				return nil, workspace.SectionErr(at, key+".url", "%v", err)
			}
			for _, k := range e.On {
				if !slices.Contains(Kinds, k) {
					return nil, workspace.SectionErr(at, key+".on", "unknown event %q (known: %s)", k, strings.Join(Kinds, ", "))
				}
			}
			out = append(out, Target{Name: key, URL: e.URL, On: e.On})
		}
	}
	for i, u := range cliURLs {
		name := "--notify"
		if len(cliURLs) > 1 {
			name = fmt.Sprintf("--notify[%d]", i)
		}
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Target{Name: name, URL: u})
	}
	return out, nil
}

// checkURL refuses what cannot be a webhook, without quoting it.
func checkURL(u string) error {
	if u == "" {
		return fmt.Errorf("no webhook URL (give an http(s) URL or env:NAME)")
	}
	if name, ok := strings.CutPrefix(u, "env:"); ok {
		if name == "" || strings.ContainsAny(name, " =\t") {
			return fmt.Errorf("env: needs the name of an environment variable")
		}
		return nil
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("the webhook URL is not an http(s) URL or env:NAME (not shown: a webhook URL is a secret)")
	}
	return nil
}

// resolve returns the target's URL, reading env:NAME from getenv.
func (t Target) resolve(getenv func(string) string) (string, error) {
	name, ok := strings.CutPrefix(t.URL, "env:")
	if !ok {
		return t.URL, nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	u := getenv(name)
	if u == "" {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	if err := checkURL(u); err != nil || strings.HasPrefix(u, "env:") {
		return "", fmt.Errorf("environment variable %s does not hold an http(s) URL", name)
	}
	return u, nil
}
