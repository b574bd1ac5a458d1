package train

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ParseParams turns k=v arguments into a map. Keys are non-empty and
// unique; two keys that map to the same environment variable are refused.
func ParseParams(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	envs := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("param %q: want k=v", kv)
		}
		if strings.ContainsAny(k, "\n\x00") {
			return nil, fmt.Errorf("param %q: the key may not hold a newline or NUL", kv)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("param %q given twice", k)
		}
		e := ParamEnvName(k)
		if other, dup := envs[e]; dup {
			return nil, fmt.Errorf("params %q and %q both become %s; rename one", other, k, e)
		}
		envs[e] = k
		out[k] = v
	}
	return out, nil
}

// ParamEnvName is the environment variable a param is passed in:
// DV_PARAM_ and the key upper-cased, with every character other than a
// letter or digit replaced by '_'.
func ParamEnvName(key string) string {
	var b strings.Builder
	b.WriteString("DV_PARAM_")
	for _, r := range strings.ToUpper(key) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ParamEnv returns the environment entries for params, sorted, plus
// DV_PARAMS_FILE=paramsFile when paramsFile is not empty.
func ParamEnv(params map[string]string, paramsFile string) []string {
	out := make([]string, 0, len(params)+1)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		out = append(out, ParamEnvName(k)+"="+params[k])
	}
	if paramsFile != "" {
		out = append(out, "DV_PARAMS_FILE="+paramsFile)
	}
	return out
}

// ParamsJSON is the content of the params file: a JSON object of the
// params (values are strings, as given), keys sorted.
func ParamsJSON(params map[string]string) []byte {
	if params == nil {
		params = map[string]string{}
	}
	b, _ := json.MarshalIndent(params, "", "  ") // maps of strings always encode
	return append(b, '\n')
}

// FormatParams prints params as k=v pairs, sorted, separated by spaces.
func FormatParams(params map[string]string) string {
	parts := make([]string, 0, len(params))
	for _, k := range slices.Sorted(maps.Keys(params)) {
		parts = append(parts, k+"="+params[k])
	}
	return strings.Join(parts, " ")
}
