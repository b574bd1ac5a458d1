package compute

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dv-ml/dv/objects/workspace"
)

// Engines.
const (
	Slurm      = "slurm"
	Kubernetes = "kubernetes"
)

// DefaultTimeout bounds a job whose target sets neither timeout nor time.
const DefaultTimeout = 24 * time.Hour

// Target is one entry of dv.yaml's compute: section: an engine and how to
// submit to it. It never holds secrets: credentials reach the job through
// the cluster's own mechanisms (Kubernetes secrets named in secret_env,
// the Slurm user's environment).
type Target struct {
	Engine string `yaml:"engine"` // slurm or kubernetes

	// Slurm.
	Partition string   `yaml:"partition,omitempty"`
	Time      string   `yaml:"time,omitempty"`   // --time, Slurm's format (02:00:00, 1-00:00:00)
	Gres      string   `yaml:"gres,omitempty"`   // --gres (gpu:1)
	CPUs      int      `yaml:"cpus,omitempty"`   // --cpus-per-task
	Mem       string   `yaml:"mem,omitempty"`    // --mem
	Sbatch    []string `yaml:"sbatch,omitempty"` // extra #SBATCH lines (--account=ml)
	Output    string   `yaml:"output,omitempty"` // the job's log file; default .dv/jobs/NAME-%j.log (on a shared filesystem)

	// Kubernetes.
	Context        string            `yaml:"context,omitempty"`
	Namespace      string            `yaml:"namespace,omitempty"`
	Image          string            `yaml:"image,omitempty"` // pinned by digest: REPO@sha256:HEX
	ServiceAccount string            `yaml:"service_account,omitempty"`
	Resources      Resources         `yaml:"resources,omitempty"`
	NodeSelector   map[string]string `yaml:"node_selector,omitempty"`
	SecretEnv      []string          `yaml:"secret_env,omitempty"` // Secrets whose keys become environment variables
	Volumes        []Volume          `yaml:"volumes,omitempty"`    // PersistentVolumeClaims to mount
	BackoffLimit   *int              `yaml:"backoff_limit,omitempty"`
	TTL            *int              `yaml:"ttl_seconds_after_finished,omitempty"`

	// Both.
	Timeout   string `yaml:"timeout,omitempty"`    // Go duration (90m, 2h); the job is stopped and recorded failed after it
	Remote    string `yaml:"remote,omitempty"`     // the dv remote the job pulls from and pushes to (default: dv.yaml's default)
	GitRemote string `yaml:"git_remote,omitempty"` // the git remote the job clones (default origin)
	Dv        string `yaml:"dv,omitempty"`         // the dv command on the cluster (default dv)
	Poll      string `yaml:"poll,omitempty"`       // how often dv asks the engine for the job's state (default 2s)
}

// Resources are a Kubernetes container's requests and limits.
type Resources struct {
	Requests map[string]string `yaml:"requests,omitempty" json:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty" json:"limits,omitempty"`
}

// Volume mounts a PersistentVolumeClaim into the job's container (a
// shared folder remote, a dataset cache).
type Volume struct {
	Claim string `yaml:"claim"`
	Path  string `yaml:"path"`
}

// Config is dv.yaml's compute: section.
type Config struct {
	Targets map[string]Target
	node    *yaml.Node
}

// LoadConfig decodes and checks the compute: section (empty when absent).
func LoadConfig(cfg *workspace.Config) (*Config, error) {
	c := &Config{Targets: map[string]Target{}}
	if _, err := cfg.Section("compute", &c.Targets); err != nil {
		return nil, err
	}
	c.node = cfg.Node("compute")
	for name, t := range c.Targets {
		if !targetName.MatchString(name) {
			return nil, workspace.SectionErr(c.valueNode(name), "compute."+name, "target name: use letters, digits, '.', '_' and '-'")
		}
		if err := t.check(name, c.valueNode(name)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Target returns the target called name, or an error listing those there are.
func (c *Config) Target(name string) (Target, error) {
	t, ok := c.Targets[name]
	if !ok {
		names := make([]string, 0, len(c.Targets))
		for n := range c.Targets {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return t, &UnknownTargetError{Name: name}
		}
		return t, &UnknownTargetError{Name: name, Known: names}
	}
	return t, nil
}

// UnknownTargetError is --on naming no entry of compute:.
type UnknownTargetError struct {
	Name  string
	Known []string
}

func (e *UnknownTargetError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("--on %s: dv.yaml has no compute: section (see docs/compute.md)", e.Name)
	}
	return fmt.Sprintf("--on %s: not in dv.yaml's compute: section (known: %s)", e.Name, strings.Join(e.Known, ", "))
}

func (c *Config) valueNode(name string) *yaml.Node {
	if c.node == nil {
		return nil
	}
	for i := 0; i+1 < len(c.node.Content); i += 2 {
		if c.node.Content[i].Value == name {
			return c.node.Content[i+1]
		}
	}
	return nil
}

// keyNode returns the value node of key in mapping n (n itself when absent).
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}

var (
	digestImage = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$`)
	slurmTime   = regexp.MustCompile(`^(\d+-)?\d+(:\d{1,2}){0,2}$`)
	targetName  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	sbatchLine  = regexp.MustCompile(`^--?[A-Za-z]`)
)

// secretish are words that mark a key or value that must not be in dv.yaml.
var secretish = regexp.MustCompile(`(?i)(password|passwd|secret_access|token|api[_-]?key)=`)

func (t Target) check(name string, n *yaml.Node) error {
	key := "compute." + name
	bad := func(k, format string, args ...any) error {
		return workspace.SectionErr(keyNode(n, k), key+"."+k, format, args...)
	}
	slurmKeys := t.Partition != "" || t.Time != "" || t.Gres != "" || t.CPUs != 0 || t.Mem != "" || len(t.Sbatch) > 0 || t.Output != ""
	kubeKeys := t.Context != "" || t.Namespace != "" || t.Image != "" || t.ServiceAccount != "" || len(t.Resources.Requests)+len(t.Resources.Limits) > 0 ||
		len(t.NodeSelector) > 0 || len(t.SecretEnv) > 0 || len(t.Volumes) > 0 || t.BackoffLimit != nil || t.TTL != nil
	switch t.Engine {
	case Slurm:
		if kubeKeys {
			return bad("engine", "a slurm target takes partition, time, gres, cpus, mem, sbatch, output (not Kubernetes keys)")
		}
		if t.Time != "" && !slurmTime.MatchString(t.Time) {
			return bad("time", "%q is not a Slurm time (MM, HH:MM:SS, D-HH:MM:SS)", t.Time)
		}
		for _, l := range t.Sbatch {
			if !sbatchLine.MatchString(l) || strings.ContainsAny(l, "\n\r") {
				return bad("sbatch", "%q is not an sbatch option (--account=ml)", l)
			}
			if secretish.MatchString(l) {
				return bad("sbatch", "looks like a secret; credentials come from the cluster, never dv.yaml")
			}
		}
	case Kubernetes:
		if slurmKeys {
			return bad("engine", "a kubernetes target takes context, namespace, image, resources, service_account, ... (not Slurm keys)")
		}
		if t.Image == "" {
			return bad("engine", "a kubernetes target needs image: (pinned by digest, REPO@sha256:...)")
		}
		if !digestImage.MatchString(t.Image) {
			return bad("image", "%q is not pinned by digest (REPO@sha256:<64 hex>): a tag can change under a recorded run", t.Image)
		}
		if t.Namespace != "" && !dnsLabel.MatchString(t.Namespace) {
			return bad("namespace", "%q is not a Kubernetes namespace name", t.Namespace)
		}
		for _, s := range t.SecretEnv {
			if !dnsLabel.MatchString(strings.ReplaceAll(s, ".", "-")) {
				return bad("secret_env", "%q is not a Secret name", s)
			}
		}
		for _, v := range t.Volumes {
			if v.Claim == "" || !strings.HasPrefix(v.Path, "/") {
				return bad("volumes", "each volume needs claim: and an absolute path:")
			}
		}
		if t.BackoffLimit != nil && *t.BackoffLimit < 0 {
			return bad("backoff_limit", "must be 0 or more")
		}
		if t.TTL != nil && *t.TTL < 0 {
			return bad("ttl_seconds_after_finished", "must be 0 or more")
		}
	case "":
		return bad("engine", "missing: slurm or kubernetes")
	default:
		return bad("engine", "%q is not an engine (slurm or kubernetes)", t.Engine)
	}
	for k, v := range map[string]string{"timeout": t.Timeout, "poll": t.Poll} {
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return bad(k, "%q is not a duration (90s, 30m, 2h)", v)
		}
	}
	return nil
}

// TimeoutDuration is how long a job may take before dv stops it and
// records it failed: timeout:, else Slurm's time: (plus a minute for the
// engine to stop it), else DefaultTimeout.
func (t Target) TimeoutDuration() time.Duration {
	if d, err := time.ParseDuration(t.Timeout); err == nil && d > 0 {
		return d
	}
	if d := parseSlurmTime(t.Time); d > 0 {
		return d + time.Minute
	}
	return DefaultTimeout
}

// PollInterval is how often dv asks the engine for a job's state.
func (t Target) PollInterval() time.Duration {
	if d, err := time.ParseDuration(t.Poll); err == nil && d > 0 {
		return d
	}
	return 2 * time.Second
}

// parseSlurmTime reads MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
func parseSlurmTime(s string) time.Duration {
	if s == "" || !slurmTime.MatchString(s) {
		return 0
	}
	var days int
	if d, rest, ok := strings.Cut(s, "-"); ok {
		fmt.Sscan(d, &days)
		s = rest
		parts := strings.Split(s, ":")
		var h, m, sec int
		fmt.Sscan(parts[0], &h)
		if len(parts) > 1 {
			fmt.Sscan(parts[1], &m)
		}
		if len(parts) > 2 {
			fmt.Sscan(parts[2], &sec)
		}
		return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second
	}
	parts := strings.Split(s, ":")
	v := make([]int, len(parts))
	for i, p := range parts {
		fmt.Sscan(p, &v[i])
	}
	switch len(v) {
	case 1:
		return time.Duration(v[0]) * time.Minute
	case 2:
		return time.Duration(v[0])*time.Minute + time.Duration(v[1])*time.Second
	default:
		return time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second
	}
}

// slurmTimeOf formats d for --time (D-HH:MM:SS), rounding up to a minute.
func slurmTimeOf(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	return fmt.Sprintf("%d-%02d:%02d:00", m/(24*60), m/60%24, m%60)
}
