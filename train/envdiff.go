package train

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/objects"
)

// EnvChange is one difference between two runs' environments: a key
// (os, versions.python, lock_files.uv.lock, python.packages.numpy, ...)
// with its value in A and in B ("" where the key is absent).
type EnvChange struct {
	Key string `json:"key"`
	A   string `json:"a"`
	B   string `json:"b"`
}

// EnvDiff compares the environments recorded on runs a and b (run records,
// or model versions and metrics records naming their run), package by
// package for Python commands. It returns the keys whose values differ,
// sorted.
func EnvDiff(ctx context.Context, s *objects.Store, a, b objects.ID) ([]EnvChange, error) {
	fa, err := FlatEnv(ctx, s, a)
	if err != nil {
		return nil, err
	}
	fb, err := FlatEnv(ctx, s, b)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var out []EnvChange
	for k := range keys {
		if fa[k] != fb[k] {
			out = append(out, EnvChange{Key: k, A: fa[k], B: fb[k]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// FlatEnv loads the environment recorded on a run (or on the run of a
// model version or metrics record) as key -> value, with one
// python.packages.NAME key per installed distribution.
func FlatEnv(ctx context.Context, s *objects.Store, id objects.ID) (map[string]string, error) {
	rec, err := lineage.Load(ctx, s, id)
	if err != nil {
		return nil, err
	}
	if rec.Type != lineage.TypeRun && !rec.Run.IsZero() {
		id = rec.Run
		if rec, err = lineage.Load(ctx, s, id); err != nil {
			return nil, err
		}
	}
	if rec.Type != lineage.TypeRun {
		return nil, fmt.Errorf("%s is a %s record, not a run", id.Short(), rec.Type)
	}
	out := map[string]string{}
	if rec.Job != nil {
		out["job.engine"], out["job.node"] = rec.Job.Engine, rec.Job.Node
	}
	e := rec.Env
	if e == nil {
		return out, nil
	}
	out["os"], out["arch"], out["cpu"] = e.OS, e.Arch, e.CPU
	if e.CPUs > 0 {
		out["cpus"] = strconv.Itoa(e.CPUs)
	}
	for k, v := range e.Versions {
		out["versions."+k] = v
	}
	for k, v := range e.LockFiles {
		out["lock_files."+k] = v
	}
	for i, a := range e.Accelerators {
		out[fmt.Sprintf("accelerators.%d", i)] = strings.Join([]string{a.Name, "driver " + a.Driver, "cuda " + a.CUDA, a.Memory}, ", ")
	}
	if e.Image != "" {
		out["image"] = e.Image
	}
	if p := e.Python; p != nil {
		out["python.executable"], out["python.version"] = p.Executable, p.Version
		if !p.Packages.IsZero() {
			var buf bytes.Buffer
			if _, err := s.ReadFile(ctx, p.Packages, &buf); err != nil {
				return nil, fmt.Errorf("run %s: package list: %w", id.Short(), err)
			}
			for _, line := range strings.Split(buf.String(), "\n") {
				if name, ver, ok := strings.Cut(line, "=="); ok {
					out["python.packages."+name] = ver
				}
			}
		}
	}
	for k, v := range out {
		if v == "" {
			delete(out, k)
		}
	}
	return out, nil
}
