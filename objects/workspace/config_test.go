package workspace

import (
	"strings"
	"testing"
)

const sampleConfig = `# project file
version: 1
project: crop # the name
remotes:
  default: shelf
  shelf: {url: ../shelf}
  s3: {url: "s3://bucket/prefix", endpoint: "http://127.0.0.1:7070", path_style: true}
`

func TestConfigRoundTrip(t *testing.T) {
	c, err := DecodeConfig([]byte(sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Default != "shelf" || c.Remotes["s3"].Endpoint != "http://127.0.0.1:7070" || !c.Remotes["s3"].PathStyle {
		t.Fatalf("decoded %+v", c)
	}
	if err := c.SetRemote("nas", RemoteConfig{URL: "/mnt/nas"}, true); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveRemote("s3"); err != nil {
		t.Fatal(err)
	}
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{"# project file", "# the name", "nas: {url: /mnt/nas}", "default: nas"} {
		if !strings.Contains(out, want) {
			t.Errorf("encoded config lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3://") {
		t.Errorf("removed remote still there:\n%s", out)
	}
	c2, err := DecodeConfig(b)
	if err != nil || c2.Default != "nas" || len(c2.Remotes) != 2 {
		t.Fatalf("re-decoded: %+v, %v", c2, err)
	}
}

func TestConfigRefusals(t *testing.T) {
	for name, in := range map[string]string{
		"version":        "version: 2\n",
		"remotes list":   "remotes: [a, b]\n",
		"no url":         "remotes:\n  a: {endpoint: x}\n",
		"credentials":    "remotes:\n  a: {url: \"s3://key:secret@bucket\"}\n",
		"endpoint creds": "remotes:\n  a: {url: \"s3://b\", endpoint: \"http://u:p@h\"}\n",
		"bad default":    "remotes:\n  default: nope\n  a: {url: /x}\n",
		"bad name":       "remotes:\n  \"a/b\": {url: /x}\n",
		"http url":       "remotes:\n  a: {url: \"http://host/x\"}\n",
		"not a mapping":  "- a\n- b\n",
		"garbage":        "{{{",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeConfig([]byte(in))
			if err == nil {
				t.Fatalf("accepted %q", in)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "u:p") {
				t.Fatalf("error repeats a credential: %v", err)
			}
		})
	}
}

func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(sampleConfig))
	f.Add([]byte("version: 1\n"))
	f.Add([]byte("remotes:\n  a: {url: /x}\n"))
	f.Add([]byte("remotes: &a\n  b: *a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeConfig(b)
		if err != nil {
			return
		}
		out, err := c.Encode()
		if err != nil {
			return
		}
		c2, err := DecodeConfig(out)
		if err != nil {
			t.Fatalf("re-decode of encoded config failed: %v\n%s", err, out)
		}
		if len(c2.Remotes) != len(c.Remotes) || c2.Default != c.Default {
			t.Fatalf("round trip changed remotes: %v vs %v", c.Remotes, c2.Remotes)
		}
	})
}
