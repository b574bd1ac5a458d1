package workspace

import (
	"bytes"
	"reflect"
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
	f.Add([]byte("remotes:\n  a: {url: /x, path_style: }\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeConfig(b)
		if err != nil {
			return
		}
		// Whatever dv accepts, it must write back (dv remote add rewrites
		// the file) and read again with the same meaning.
		out, err := c.Encode()
		if err != nil {
			t.Fatalf("accepted config does not encode: %v\n%q", err, b)
		}
		c2, err := DecodeConfig(out)
		if err != nil {
			t.Fatalf("re-decode of encoded config failed: %v\nin:  %q\nout: %q", err, b, out)
		}
		if !reflect.DeepEqual(c2.Remotes, c.Remotes) || c2.Default != c.Default {
			t.Fatalf("round trip changed remotes: %+v (default %q) became %+v (default %q)\n%q",
				c.Remotes, c.Default, c2.Remotes, c2.Default, out)
		}
		// The whole document, sections included, means the same.
		var v1, v2 any
		if c.doc.Decode(&v1) != nil {
			return // an alias bomb or the like: the typed decode above stood
		}
		if err := c2.doc.Decode(&v2); err != nil {
			t.Fatalf("re-decoded document does not decode: %v\n%q", err, out)
		}
		if !reflect.DeepEqual(v1, v2) {
			t.Fatalf("round trip changed the document:\n%#v\n%#v\nout: %q", v1, v2, out)
		}
		out2, err := c2.Encode()
		if err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("encoding is not stable: %q then %q (%v)", out, out2, err)
		}
	})
}
