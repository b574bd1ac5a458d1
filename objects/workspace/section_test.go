package workspace

import (
	"errors"
	"strings"
	"testing"
)

type testSection struct {
	Alias    string `yaml:"alias"`
	Criteria []struct {
		Metric    string   `yaml:"metric"`
		Threshold *float64 `yaml:"threshold"`
	} `yaml:"criteria"`
}

func TestSection(t *testing.T) {
	c, err := DecodeConfig([]byte("version: 1\npromotion:\n  alias: prod\n  criteria:\n    - metric: rmse\n      threshold: 2.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	var s testSection
	found, err := c.Section("promotion", &s)
	if err != nil || !found {
		t.Fatalf("found %v, err %v", found, err)
	}
	if s.Alias != "prod" || len(s.Criteria) != 1 || *s.Criteria[0].Threshold != 2.5 {
		t.Fatalf("decoded %+v", s)
	}
	if found, err := c.Section("drift", &s); found || err != nil {
		t.Fatalf("absent section: found %v, err %v", found, err)
	}
}

func TestSectionErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unknown nested key", "promotion:\n  alias: p\n  criteria:\n    - metric: rmse\n      treshold: 2\n", "dv.yaml:5: promotion.criteria[0].treshold: unknown key"},
		{"wrong type", "promotion:\n  criteria:\n    - metric: rmse\n      threshold: high\n", "dv.yaml:4: promotion: cannot unmarshal"},
		{"duplicate", "promotion:\n  alias: a\n  alias: b\n", "promotion.alias"},
		{"not a list", "promotion:\n  criteria: 3\n", "dv.yaml:2: promotion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeConfig([]byte(tc.in))
			if err != nil {
				if strings.Contains(err.Error(), tc.want) {
					return // yaml itself refused it (duplicate keys), naming the key
				}
				t.Fatal(err)
			}
			var s testSection
			_, err = c.Section("promotion", &s)
			var se *SectionError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestUnknownTopLevelKey(t *testing.T) {
	_, err := DecodeConfig([]byte("version: 1\npromtion:\n  alias: p\n"))
	if err == nil || !strings.Contains(err.Error(), "dv.yaml:2: promtion: unknown key") {
		t.Fatalf("got %v", err)
	}
}
