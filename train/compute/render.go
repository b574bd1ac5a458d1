package compute

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Source is where a job gets its code: the git URL it clones and the
// commit it checks out.
type Source struct {
	GitURL string
	Commit string
}

// Labels put on every Kubernetes Job and pod dv submits.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelRun       = "dv.dev/run"
	LabelTarget    = "dv.dev/target"
	LabelCacheKey  = "dv.dev/cache-key"
)

// jobScript is the shell the job runs on either engine: clone the code at
// the commit into a scratch folder, and run dv job there.
func jobScript(t Target, src Source, spec *Spec) string {
	dv := t.Dv
	if dv == "" {
		dv = "dv"
	}
	var b strings.Builder
	b.WriteString("set -eu\n")
	b.WriteString("work=$(mktemp -d \"${TMPDIR:-/tmp}/dv-job.XXXXXX\")\n")
	b.WriteString("trap 'rm -rf \"$work\"' EXIT\n")
	fmt.Fprintf(&b, "git clone --quiet --no-checkout %s \"$work/src\"\n", shellQuote(src.GitURL))
	b.WriteString("cd \"$work/src\"\n")
	fmt.Fprintf(&b, "git -c advice.detachedHead=false checkout --quiet %s\n", shellQuote(src.Commit))
	fmt.Fprintf(&b, "%s job --spec %s\n", shellQuote(dv), spec.Encode())
	return b.String()
}

// SlurmScript renders the batch script sbatch reads on stdin. The same
// inputs give the same bytes.
func SlurmScript(t Target, src Source, spec *Spec, output string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "# dv job: run %s at commit %s (dv run --on %s)\n", spec.Name, src.Commit, spec.Target)
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", jobName(spec.Name))
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", output)
	if t.Partition != "" {
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", t.Partition)
	}
	tm := t.Time
	if tm == "" {
		tm = slurmTimeOf(t.TimeoutDuration())
	}
	fmt.Fprintf(&b, "#SBATCH --time=%s\n", tm)
	if t.Gres != "" {
		fmt.Fprintf(&b, "#SBATCH --gres=%s\n", t.Gres)
	}
	if t.CPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", t.CPUs)
	}
	if t.Mem != "" {
		fmt.Fprintf(&b, "#SBATCH --mem=%s\n", t.Mem)
	}
	for _, l := range t.Sbatch {
		fmt.Fprintf(&b, "#SBATCH %s\n", l)
	}
	b.WriteString(jobScript(t, src, spec))
	return b.String()
}

// KubeJob is a batch/v1 Job, with only the fields dv sets.
type KubeJob struct {
	APIVersion string      `json:"apiVersion" yaml:"apiVersion"`
	Kind       string      `json:"kind" yaml:"kind"`
	Metadata   KubeMeta    `json:"metadata" yaml:"metadata"`
	Spec       KubeJobSpec `json:"spec" yaml:"spec"`
}

// KubeMeta is an object's metadata.
type KubeMeta struct {
	Name      string            `json:"name,omitempty" yaml:"name,omitempty"`
	Namespace string            `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// KubeJobSpec is a Job's spec.
type KubeJobSpec struct {
	BackoffLimit            int          `json:"backoffLimit" yaml:"backoffLimit"`
	ActiveDeadlineSeconds   int64        `json:"activeDeadlineSeconds" yaml:"activeDeadlineSeconds"`
	TTLSecondsAfterFinished int          `json:"ttlSecondsAfterFinished" yaml:"ttlSecondsAfterFinished"`
	Template                KubeTemplate `json:"template" yaml:"template"`
}

// KubeTemplate is a Job's pod template.
type KubeTemplate struct {
	Metadata KubeMeta    `json:"metadata" yaml:"metadata"`
	Spec     KubePodSpec `json:"spec" yaml:"spec"`
}

// KubePodSpec is the pod's spec.
type KubePodSpec struct {
	RestartPolicy      string            `json:"restartPolicy" yaml:"restartPolicy"`
	ServiceAccountName string            `json:"serviceAccountName,omitempty" yaml:"serviceAccountName,omitempty"`
	NodeSelector       map[string]string `json:"nodeSelector,omitempty" yaml:"nodeSelector,omitempty"`
	Containers         []KubeContainer   `json:"containers" yaml:"containers"`
	Volumes            []KubeVolume      `json:"volumes,omitempty" yaml:"volumes,omitempty"`
}

// KubeContainer is the one container of a dv job.
type KubeContainer struct {
	Name         string            `json:"name" yaml:"name"`
	Image        string            `json:"image" yaml:"image"`
	Command      []string          `json:"command" yaml:"command"`
	Env          []KubeEnv         `json:"env,omitempty" yaml:"env,omitempty"`
	EnvFrom      []KubeEnvFrom     `json:"envFrom,omitempty" yaml:"envFrom,omitempty"`
	Resources    *Resources        `json:"resources,omitempty" yaml:"resources,omitempty"`
	VolumeMounts []KubeVolumeMount `json:"volumeMounts,omitempty" yaml:"volumeMounts,omitempty"`
}

// KubeEnv is one environment variable.
type KubeEnv struct {
	Name      string         `json:"name" yaml:"name"`
	Value     string         `json:"value,omitempty" yaml:"value,omitempty"`
	ValueFrom *KubeEnvSource `json:"valueFrom,omitempty" yaml:"valueFrom,omitempty"`
}

// KubeEnvSource takes a value from the pod (the downward API).
type KubeEnvSource struct {
	FieldRef struct {
		FieldPath string `json:"fieldPath" yaml:"fieldPath"`
	} `json:"fieldRef" yaml:"fieldRef"`
}

// KubeEnvFrom takes every key of a Secret as a variable.
type KubeEnvFrom struct {
	SecretRef struct {
		Name string `json:"name" yaml:"name"`
	} `json:"secretRef" yaml:"secretRef"`
}

// KubeVolume is a PersistentVolumeClaim volume.
type KubeVolume struct {
	Name                  string `json:"name" yaml:"name"`
	PersistentVolumeClaim struct {
		ClaimName string `json:"claimName" yaml:"claimName"`
	} `json:"persistentVolumeClaim" yaml:"persistentVolumeClaim"`
}

// KubeVolumeMount mounts a volume.
type KubeVolumeMount struct {
	Name      string `json:"name" yaml:"name"`
	MountPath string `json:"mountPath" yaml:"mountPath"`
}

// DefaultTTL is how long Kubernetes keeps a finished Job (and its pod's
// log) when the target does not say: a day.
const DefaultTTL = 86400

// KubernetesJob renders the Job for a run: restartPolicy Never, backoffLimit
// 0 unless the target sets it, activeDeadlineSeconds from the timeout,
// ttlSecondsAfterFinished, labels naming dv, the target, the run and its
// cache key, and the image pinned by digest. The same inputs give the
// same Job.
func KubernetesJob(t Target, src Source, spec *Spec, name string) *KubeJob {
	labels := map[string]string{
		LabelManagedBy: "dv",
		LabelRun:       labelValue(spec.Name),
		LabelTarget:    labelValue(spec.Target),
		LabelCacheKey:  labelValue(spec.CacheKey),
	}
	backoff, ttl := 0, DefaultTTL
	if t.BackoffLimit != nil {
		backoff = *t.BackoffLimit
	}
	if t.TTL != nil {
		ttl = *t.TTL
	}
	node := KubeEnv{Name: "DV_NODE", ValueFrom: &KubeEnvSource{}}
	node.ValueFrom.FieldRef.FieldPath = "spec.nodeName"
	c := KubeContainer{Name: "dv", Image: t.Image, Command: []string{"sh", "-c", jobScript(t, src, spec)},
		Env: []KubeEnv{{Name: "DV_IMAGE", Value: t.Image}, {Name: "DV_JOB_ID", Value: name}, node}}
	for _, s := range t.SecretEnv {
		var ef KubeEnvFrom
		ef.SecretRef.Name = s
		c.EnvFrom = append(c.EnvFrom, ef)
	}
	if len(t.Resources.Requests)+len(t.Resources.Limits) > 0 {
		r := t.Resources
		c.Resources = &r
	}
	pod := KubePodSpec{RestartPolicy: "Never", ServiceAccountName: t.ServiceAccount, NodeSelector: t.NodeSelector}
	for i, v := range t.Volumes {
		vn := fmt.Sprintf("vol%d", i)
		kv := KubeVolume{Name: vn}
		kv.PersistentVolumeClaim.ClaimName = v.Claim
		pod.Volumes = append(pod.Volumes, kv)
		c.VolumeMounts = append(c.VolumeMounts, KubeVolumeMount{Name: vn, MountPath: v.Path})
	}
	pod.Containers = []KubeContainer{c}
	return &KubeJob{APIVersion: "batch/v1", Kind: "Job",
		Metadata: KubeMeta{Name: name, Namespace: t.Namespace, Labels: labels},
		Spec: KubeJobSpec{BackoffLimit: backoff, ActiveDeadlineSeconds: int64(t.TimeoutDuration().Seconds()),
			TTLSecondsAfterFinished: ttl, Template: KubeTemplate{Metadata: KubeMeta{Labels: labels}, Spec: pod}}}
}

// JSON is the Job as kubectl apply reads it.
func (j *KubeJob) JSON() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(j) // plain structs: cannot fail
	return buf.Bytes()
}

// YAML is the Job as a person reads it (dv run --on --dry-run).
func (j *KubeJob) YAML() []byte {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	_ = enc.Encode(j)
	_ = enc.Close()
	return buf.Bytes()
}

var notLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// jobName turns a run name into a Slurm job name or the stem of a
// Kubernetes Job name: lowercase letters, digits and '-'.
func jobName(run string) string {
	s := strings.Trim(notLabel.ReplaceAllString(strings.ToLower(run), "-"), "-")
	if s == "" {
		s = "run"
	}
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	return "dv-" + s
}

// KubeJobName is the name of the Job for run name: dv-NAME-SUFFIX, where
// suffix tells submissions apart.
func KubeJobName(run, suffix string) string { return jobName(run) + "-" + suffix }

// labelValue makes s a valid label value (at most 63 characters of
// [A-Za-z0-9._-], starting and ending alphanumeric).
func labelValue(s string) string {
	s = regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-._")
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	if s != "" && regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
