package lineage

import (
	"bytes"
	"testing"
	"time"

	"github.com/dv-ml/dv/objects"
)

func sampleRecord() *Record {
	id := objects.Hash(objects.TypeBlob, []byte("x"))
	return &Record{Type: TypeRun, Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Commit: "abc",
		Parents: []objects.ID{id}, Objects: []objects.ID{id}, Command: []string{"sh", "-c", "true"},
		Params: map[string]string{"lr": "0.1"}, Inputs: []IO{{Path: "data", Data: id}}, Status: "succeeded",
		Metrics: map[string]float64{"rmse": 1.5}}
}

func TestRecordRoundTrip(t *testing.T) {
	r := sampleRecord()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := r2.Encode()
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("round trip differs:\n%s\n%s", b, b2)
	}
	for _, bad := range []string{`{"version":2,"type":"run","time":"2026-01-01T00:00:00Z"}`,
		`{"version":1,"type":"nope","time":"2026-01-01T00:00:00Z"}`, `{"version":1,"type":"run"}`, `[]`, `{`} {
		if _, err := DecodeRecord([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	b, _ := sampleRecord().Encode()
	f.Add(b)
	f.Add([]byte(`{"version":1,"type":"dataset","time":"2026-01-01T00:00:00Z","data":"` + objects.Hash(objects.TypeTree, nil).String() + `"}`))
	f.Add([]byte(`{"version":1,"type":"run","time":"2026-01-01T00:00:00Z","parents":["zz"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		out, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if _, err := DecodeRecord(out); err != nil {
			t.Fatalf("encoded record does not decode: %v", err)
		}
	})
}
