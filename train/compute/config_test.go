package compute

import (
	"strings"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects/workspace"
)

func loadCompute(t *testing.T, yml string) (*Config, error) {
	t.Helper()
	cfg, err := workspace.DecodeConfig([]byte("version: 1\n" + yml))
	if err != nil {
		return nil, err
	}
	return LoadConfig(cfg)
}

func TestConfig(t *testing.T) {
	c, err := loadCompute(t, `compute:
  gpu: {engine: slurm, partition: gpu, time: "02:00:00", gres: "gpu:1", sbatch: ["--account=ml"]}
  k8s:
    engine: kubernetes
    context: prod
    namespace: ml
    image: "`+testImage+`"
    resources: {limits: {nvidia.com/gpu: "1"}}
    timeout: 3h
`)
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Target("gpu")
	if err != nil || g.Partition != "gpu" || g.TimeoutDuration() != 2*time.Hour+time.Minute {
		t.Fatalf("gpu: %+v %v", g, err)
	}
	k, _ := c.Target("k8s")
	if k.Resources.Limits["nvidia.com/gpu"] != "1" || k.TimeoutDuration() != 3*time.Hour {
		t.Fatalf("k8s: %+v", k)
	}
	if _, err := c.Target("nope"); err == nil || !strings.Contains(err.Error(), "known: gpu, k8s") {
		t.Fatalf("unknown target: %v", err)
	}
}

func TestConfigRefused(t *testing.T) {
	for _, tc := range []struct{ name, yml, want string }{
		{"no engine", "compute:\n  a: {partition: x}\n", "dv.yaml:3: compute.a.engine: missing"},
		{"bad engine", "compute:\n  a: {engine: nomad}\n", `"nomad" is not an engine`},
		{"unknown key", "compute:\n  a: {engine: slurm, partiton: x}\n", "partiton"},
		{"tag image", "compute:\n  a: {engine: kubernetes, image: trainer:latest}\n", "not pinned by digest"},
		{"no image", "compute:\n  a: {engine: kubernetes}\n", "needs image"},
		{"mixed", "compute:\n  a: {engine: slurm, namespace: ml}\n", "not Kubernetes keys"},
		{"slurm time", "compute:\n  a: {engine: slurm, time: soon}\n", "not a Slurm time"},
		{"timeout", "compute:\n  a: {engine: slurm, timeout: forever}\n", "not a duration"},
		{"secret", "compute:\n  a: {engine: slurm, sbatch: [\"--export=TOKEN=abc\"]}\n", "looks like a secret"},
		{"sbatch", "compute:\n  a: {engine: slurm, sbatch: [\"rm -rf /\"]}\n", "not an sbatch option"},
		{"name", "compute:\n  a/b: {engine: slurm}\n", "target name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCompute(t, tc.yml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseSlurm(t *testing.T) {
	st := parseScontrol("JobId=7 JobName=dv-x JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 NodeList=n1 BatchHost=n1")
	if st.State != StateFailed || !st.Final || st.ExitCode != 3 || st.Node != "n1" {
		t.Fatalf("%+v", st)
	}
	if st := parseScontrol("JobId=7 JobState=RUNNING ExitCode=0:0 NodeList=n2"); st.State != StateRunning || st.Final || st.Node != "n2" {
		t.Fatalf("%+v", st)
	}
	if st, ok := parseSacct("CANCELLED by 0|0:15|n1\n"); !ok || st.State != StateCancelled || st.ExitCode != 143 {
		t.Fatalf("%+v %v", st, ok)
	}
	if st := slurmState("NODE_FAIL"); st.State != StateLost || !st.Final {
		t.Fatalf("%+v", st)
	}
	if d := parseSlurmTime("1-02:03:04"); d != 26*time.Hour+3*time.Minute+4*time.Second {
		t.Fatal(d)
	}
	if d := parseSlurmTime("30"); d != 30*time.Minute {
		t.Fatal(d)
	}
}

func TestToolMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := slurm{}.Submit(t.Context(), &Job{}, []byte("#!/bin/sh\n"))
	if err == nil || err.Error() != "sbatch not found on PATH: dv drives slurm through its own commands (install the client, or run dv where it is)" {
		t.Fatalf("got %v", err)
	}
	_, err = kube{}.State(t.Context(), &Job{ID: "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "kubectl not found on PATH: dv drives kubernetes") {
		t.Fatalf("got %v", err)
	}
}
