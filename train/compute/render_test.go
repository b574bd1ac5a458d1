package compute

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/dv-ml/dv/train"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testImage = "registry.example/trainer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func testSpec(engine string) *Spec {
	o := train.RunOptions{Name: "crop/model", Command: []string{"python3", "train.py", "--lr", "it's"},
		Deps: []string{"data/fields"}, Outs: []string{"model"}, Params: map[string]string{"lr": "0.1", "depth": "6"},
		Model: &train.ModelOptions{Name: "crop", Path: "model", MetricsFile: "metrics.json"}}
	return specOf("gpu", Target{Engine: engine}, o, "0123456789abcdef0123456789abcdef01234567",
		"ab"+strings.Repeat("0", 62), "shelf", "/srv/dv/shelf")
}

var testSource = Source{GitURL: "git@git.example:ml/crop.git", Commit: "0123456789abcdef0123456789abcdef01234567"}

func TestSlurmScriptGolden(t *testing.T) {
	tg := Target{Engine: Slurm, Partition: "gpu", Time: "02:00:00", Gres: "gpu:1", CPUs: 8, Mem: "32G",
		Sbatch: []string{"--account=ml", "--qos=normal"}}
	got := SlurmScript(tg, testSource, testSpec(Slurm), "/home/ana/crop/.dv/jobs/gpu/dv-crop-model-%j.log")
	golden(t, "slurm.sh", []byte(got))
	if again := SlurmScript(tg, testSource, testSpec(Slurm), "/home/ana/crop/.dv/jobs/gpu/dv-crop-model-%j.log"); again != got {
		t.Fatal("the script is not deterministic")
	}
	// Without time: the timeout becomes --time.
	got = SlurmScript(Target{Engine: Slurm, Timeout: "90m"}, testSource, testSpec(Slurm), "/tmp/x-%j.log")
	if !strings.Contains(got, "#SBATCH --time=0-01:30:00\n") {
		t.Fatalf("no --time from timeout:\n%s", got)
	}
}

func TestKubernetesJobGolden(t *testing.T) {
	backoff := 2
	tg := Target{Engine: Kubernetes, Context: "prod", Namespace: "ml", Image: testImage, ServiceAccount: "trainer",
		Resources:    Resources{Requests: map[string]string{"cpu": "4", "memory": "16Gi"}, Limits: map[string]string{"nvidia.com/gpu": "1"}},
		NodeSelector: map[string]string{"pool": "gpu"}, SecretEnv: []string{"s3-credentials"},
		Volumes: []Volume{{Claim: "shelf", Path: "/srv/dv"}}, Timeout: "2h"}
	j := KubernetesJob(tg, testSource, testSpec(Kubernetes), KubeJobName("crop/model", "1a2b3c4d"))
	golden(t, "job.yaml", j.YAML())
	golden(t, "job.json", j.JSON())
	j2 := KubernetesJob(Target{Engine: Kubernetes, Image: testImage, BackoffLimit: &backoff}, testSource, testSpec(Kubernetes), "dv-x-1")
	if j2.Spec.BackoffLimit != 2 || j2.Spec.TTLSecondsAfterFinished != DefaultTTL || j2.Spec.ActiveDeadlineSeconds != int64(DefaultTimeout.Seconds()) {
		t.Fatalf("defaults: %+v", j2.Spec)
	}

	// The YAML and the JSON are the same object, a valid batch/v1 Job in
	// the fields dv sets.
	var fromYAML, fromJSON map[string]any
	if err := yaml.Unmarshal(j.YAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j.JSON(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromYAML)
	b, _ := json.Marshal(fromJSON)
	if !bytes.Equal(a, b) {
		t.Fatalf("YAML and JSON differ:\n%s\n%s", a, b)
	}
	checkJob(t, fromJSON)
}

// checkJob checks what the Kubernetes API requires of a batch/v1 Job
// and what dv promises.
func checkJob(t *testing.T, j map[string]any) {
	t.Helper()
	get := func(path ...string) any {
		var v any = j
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %s", path, p)
			}
			v = m[p]
		}
		return v
	}
	if get("apiVersion") != "batch/v1" || get("kind") != "Job" {
		t.Fatalf("not a batch/v1 Job: %v %v", get("apiVersion"), get("kind"))
	}
	name, _ := get("metadata", "name").(string)
	if !dnsLabel.MatchString(name) || len(name) > 63 {
		t.Fatalf("name %q is not a DNS label", name)
	}
	if get("spec", "template", "spec", "restartPolicy") != "Never" || get("spec", "backoffLimit") == nil ||
		get("spec", "ttlSecondsAfterFinished") == nil || get("spec", "activeDeadlineSeconds") == nil {
		t.Fatalf("spec: %v", get("spec"))
	}
	labels := get("metadata", "labels").(map[string]any)
	if labels[LabelManagedBy] != "dv" || labels[LabelRun] == nil {
		t.Fatalf("labels %v", labels)
	}
	for k, v := range labels {
		if s := v.(string); len(s) > 63 || labelValue(s) != s {
			t.Fatalf("label %s=%q is not a valid label value", k, s)
		}
	}
	c := get("spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	if !digestImage.MatchString(c["image"].(string)) {
		t.Fatalf("image %v not pinned by digest", c["image"])
	}
}

func TestSpecRoundTrip(t *testing.T) {
	s := testSpec(Slurm)
	got, err := DecodeSpec(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Encode() != s.Encode() || got.Model.MetricsFile != "metrics.json" || got.Params["lr"] != "0.1" {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range []string{"!!", "e30=" /* {} */} {
		if _, err := DecodeSpec(bad); err == nil {
			t.Fatalf("DecodeSpec(%q) accepted", bad)
		}
	}
}

func TestJobName(t *testing.T) {
	for in, want := range map[string]string{
		"crop/model": "dv-crop-model", "A_B.c": "dv-a-b-c", "///": "dv-run",
		strings.Repeat("x", 80): "dv-" + strings.Repeat("x", 40),
	} {
		if got := jobName(in); got != want {
			t.Errorf("jobName(%q) = %q, want %q", in, got, want)
		}
	}
}
