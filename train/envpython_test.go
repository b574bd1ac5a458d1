package train

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPythonInterpreter(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("env.py", "#!/usr/bin/env -S python3.12 -u\nprint(1)\n")
	write("abs.py", "#!/opt/py/bin/python\n")
	write("run.sh", "#!/bin/sh\necho\n")
	write("empty", "")
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"python3", "x.py"}, "python3"},
		{[]string{"/usr/bin/python3.11"}, "/usr/bin/python3.11"},
		{[]string{"python"}, "python"},
		{[]string{"./env.py"}, "python3.12"},
		{[]string{"./abs.py"}, "/opt/py/bin/python"},
		{[]string{"./run.sh"}, ""},
		{[]string{"./empty"}, ""},
		{[]string{"./missing.py"}, ""},
		{[]string{"pythonista"}, ""},
		{nil, ""},
	} {
		if got := PythonInterpreter(dir, tc.argv); got != tc.want {
			t.Errorf("PythonInterpreter(%q) = %q, want %q", tc.argv, got, tc.want)
		}
	}
}

func TestParseGPUs(t *testing.T) {
	got := parseGPUs("NVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB\nNVIDIA H100 80GB HBM3, 550.54.15, 81559 MiB\n", "12.4")
	if len(got) != 2 || got[0].Name != "NVIDIA H100 80GB HBM3" || got[0].Driver != "550.54.15" || got[0].CUDA != "12.4" || got[1].Memory != "81559 MiB" {
		t.Fatalf("parseGPUs = %+v", got)
	}
	if got := parseGPUs("\n", ""); got != nil {
		t.Fatalf("empty output: %+v", got)
	}
}

func TestContainerImageFromEnv(t *testing.T) {
	t.Setenv(ImageEnv, "registry.example/trainer@sha256:abc")
	if got := containerImage(); got != "registry.example/trainer@sha256:abc" {
		t.Fatalf("containerImage = %q", got)
	}
}
