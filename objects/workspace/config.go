package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigFile is the project file at the work tree's root.
const ConfigFile = "dv.yaml"

// RemoteConfig is one entry of dv.yaml's remotes: never a secret.
type RemoteConfig struct {
	URL       string `yaml:"url" json:"url"`
	Endpoint  string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	Region    string `yaml:"region,omitempty" json:"region,omitempty"`
	PathStyle bool   `yaml:"path_style,omitempty" json:"path_style,omitempty"`
}

// Config is dv.yaml. Only the keys dv reads are decoded; the document is
// kept whole (comments included) so that edits change only what they must.
type Config struct {
	doc     yaml.Node
	Remotes map[string]RemoteConfig
	Default string
}

// maxConfigSize bounds what is read of dv.yaml.
const maxConfigSize = 1 << 20

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var remoteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// LoadConfig reads dv.yaml in root; a missing file is an empty config.
func LoadConfig(root string) (*Config, error) {
	b, err := os.ReadFile(root + "/" + ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return DecodeConfig(nil)
	}
	if err != nil {
		return nil, err
	}
	c, err := DecodeConfig(b)
	var se *SectionError
	if errors.As(err, &se) {
		return nil, err // names the file and line already
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	return c, nil
}

// DecodeConfig parses and checks dv.yaml's bytes.
func DecodeConfig(b []byte) (*Config, error) {
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("too large (%d bytes)", len(b))
	}
	c := &Config{Remotes: map[string]RemoteConfig{}}
	if len(bytes.TrimSpace(b)) == 0 {
		c.doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		return c, nil
	}
	if err := yaml.Unmarshal(b, &c.doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", oneLine(err.Error()))
	}
	if len(c.doc.Content) != 1 || c.doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping of keys")
	}
	flowNulls(&c.doc, false)
	if err := checkTopLevel(c.doc.Content[0]); err != nil {
		return nil, err
	}
	var top struct {
		Version *int      `yaml:"version"`
		Remotes yaml.Node `yaml:"remotes"`
	}
	if err := c.doc.Decode(&top); err != nil {
		return nil, fmt.Errorf("%s", oneLine(err.Error()))
	}
	if top.Version != nil && *top.Version != 1 {
		return nil, fmt.Errorf("unsupported version %d", *top.Version)
	}
	if top.Remotes.Kind == 0 || top.Remotes.Tag == "!!null" {
		return c, nil
	}
	if top.Remotes.Kind != yaml.MappingNode {
		return nil, errors.New("remotes: not a mapping")
	}
	for i := 0; i+1 < len(top.Remotes.Content); i += 2 {
		k, v := top.Remotes.Content[i].Value, top.Remotes.Content[i+1]
		if k == "default" {
			c.Default = v.Value
			continue
		}
		var rc RemoteConfig
		if err := v.Decode(&rc); err != nil {
			return nil, fmt.Errorf("remotes.%s: %s", k, oneLine(err.Error()))
		}
		if err := rc.Validate(k); err != nil {
			return nil, fmt.Errorf("remotes.%s: %w", k, err)
		}
		c.Remotes[k] = rc
	}
	if c.Default != "" {
		if _, ok := c.Remotes[c.Default]; !ok {
			return nil, fmt.Errorf("remotes.default names %q, which is not defined", c.Default)
		}
	}
	return c, nil
}

// flowNulls spells out the empty nulls inside flow collections
// ({path_style: }) as "null": the YAML encoder would write them back as
// an empty quoted string (no longer null), so a config dv accepts could not be read
// again after an edit. Block-style empty values encode back as they were.
func flowNulls(n *yaml.Node, inFlow bool) {
	if n.Kind == yaml.ScalarNode && inFlow && n.Tag == "!!null" && n.Value == "" {
		n.Value = "null"
	}
	inFlow = inFlow || n.Style&yaml.FlowStyle != 0
	for _, k := range n.Content {
		flowNulls(k, inFlow)
	}
}

// Validate checks a remote's name and settings.
func (rc RemoteConfig) Validate(name string) error {
	if !remoteName.MatchString(name) || name == "default" {
		return fmt.Errorf("invalid remote name %q (letters, digits, '.', '_', '-')", name)
	}
	if rc.URL == "" {
		return errors.New("url is missing")
	}
	for _, s := range []string{rc.URL, rc.Endpoint} {
		if hasUserinfo(s) {
			return errors.New("credentials do not belong in dv.yaml (it is committed); use the AWS credential chain")
		}
	}
	if strings.HasPrefix(rc.URL, "s3://") {
		if u, err := url.Parse(rc.URL); err != nil || u.Host == "" {
			return fmt.Errorf("url %q: want s3://bucket[/prefix]", rc.URL)
		}
	} else if strings.Contains(rc.URL, "://") && !strings.HasPrefix(rc.URL, "file://") {
		return fmt.Errorf("url %q: want a folder, file://PATH or s3://bucket[/prefix]", rc.URL)
	}
	return nil
}

// hasUserinfo reports whether a URL may carry a user name or password. An
// S3 or HTTP URL has no use for '@' after its scheme, and url.Parse alone
// misses a secret holding '/' (s3://KEY:se/cret@bucket: the host would be
// "KEY:se"), which the messages below would then quote.
func hasUserinfo(s string) bool {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return true
	}
	scheme, rest, ok := strings.Cut(s, "://")
	return ok && scheme != "file" && strings.Contains(rest, "@")
}

// Names returns the remote names, sorted.
func (c *Config) Names() []string {
	var out []string
	for n := range c.Remotes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Remote returns the named remote, or the default when name is "".
func (c *Config) Remote(name string) (string, RemoteConfig, error) {
	if name == "" {
		name = c.Default
		if name == "" && len(c.Remotes) == 1 {
			name = c.Names()[0]
		}
		if name == "" {
			return "", RemoteConfig{}, errors.New("no default remote: add one with dv remote add --default NAME URL, or pass -r NAME")
		}
	}
	rc, ok := c.Remotes[name]
	if !ok {
		return "", RemoteConfig{}, fmt.Errorf("no remote named %q in %s (see dv remote list)", name, ConfigFile)
	}
	return name, rc, nil
}

func (c *Config) remotesNode() *yaml.Node {
	top := c.doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "remotes" {
			if top.Content[i+1].Kind != yaml.MappingNode {
				top.Content[i+1] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
			return top.Content[i+1]
		}
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "remotes"}, m)
	return m
}

func setKey(m *yaml.Node, key string, val *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = val
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
}

func deleteKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}

// SetRemote adds or replaces a remote; makeDefault also makes it the
// default.
func (c *Config) SetRemote(name string, rc RemoteConfig, makeDefault bool) error {
	if err := rc.Validate(name); err != nil {
		return err
	}
	var n yaml.Node
	if err := n.Encode(rc); err != nil {
		return err
	}
	n.Style = yaml.FlowStyle
	m := c.remotesNode()
	setKey(m, name, &n)
	c.Remotes[name] = rc
	if makeDefault {
		setKey(m, "default", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name})
		c.Default = name
	}
	return nil
}

// RemoveRemote deletes a remote (and the default, if it was that).
func (c *Config) RemoveRemote(name string) error {
	if _, ok := c.Remotes[name]; !ok {
		return fmt.Errorf("no remote named %q", name)
	}
	m := c.remotesNode()
	deleteKey(m, name)
	delete(c.Remotes, name)
	if c.Default == name {
		deleteKey(m, "default")
		c.Default = ""
	}
	return nil
}

// Encode returns the document's bytes.
func (c *Config) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&c.doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
