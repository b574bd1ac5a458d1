package train

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestParseParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      []string
		want    map[string]string
		wantErr bool
	}{
		{"empty", nil, map[string]string{}, false},
		{"values keep '=' and ','", []string{"lr=0.1", "layers=64,32", "expr=a=b"}, map[string]string{"lr": "0.1", "layers": "64,32", "expr": "a=b"}, false},
		{"empty value", []string{"tag="}, map[string]string{"tag": ""}, false},
		{"no equals", []string{"lr"}, nil, true},
		{"empty key", []string{"=1"}, nil, true},
		{"twice", []string{"a=1", "a=2"}, nil, true},
		{"same env name", []string{"learning-rate=1", "learning_rate=2"}, nil, true},
		{"newline in key", []string{"a\nb=1"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseParams(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && !mapsEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParamEnv(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"lr": "DV_PARAM_LR", "learning-rate": "DV_PARAM_LEARNING_RATE", "model.depth": "DV_PARAM_MODEL_DEPTH",
		"a b/c": "DV_PARAM_A_B_C", "x9": "DV_PARAM_X9", "é": "DV_PARAM_É",
	} {
		if got := ParamEnvName(in); got != want && in != "é" {
			t.Errorf("ParamEnvName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ParamEnvName("é"); got != "DV_PARAM__" {
		t.Errorf("non-ASCII letters become '_': got %q", got)
	}
	env := ParamEnv(map[string]string{"b": "2", "a": "1"}, "/tmp/p.json")
	want := []string{"DV_PARAM_A=1", "DV_PARAM_B=2", "DV_PARAMS_FILE=/tmp/p.json"}
	if !slices.Equal(env, want) {
		t.Fatalf("ParamEnv = %q, want %q", env, want)
	}
	var back map[string]string
	if err := json.Unmarshal(ParamsJSON(map[string]string{"lr": "0.1", "q": `"quoted"`}), &back); err != nil {
		t.Fatal(err)
	}
	if back["lr"] != "0.1" || back["q"] != `"quoted"` {
		t.Fatalf("params file round trip: %v", back)
	}
	if string(ParamsJSON(nil)) != "{}\n" {
		t.Fatalf("no params: %q", ParamsJSON(nil))
	}
	if got := FormatParams(map[string]string{"b": "2", "a": "1"}); got != "a=1 b=2" {
		t.Fatalf("FormatParams = %q", got)
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
