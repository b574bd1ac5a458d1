package compute

import "testing"

// FuzzDecodeSpec: the job spec dv job reads from its command line never
// panics the decoder, and a spec it accepts encodes back to one that
// decodes and encodes to the same bytes.
func FuzzDecodeSpec(f *testing.F) {
	good := &Spec{Version: SpecVersion, Target: "gpu", Engine: "slurm", Name: "crop",
		Command: []string{"python", "train.py"}, Deps: []string{"data"}, Outs: []string{"model"},
		Params: map[string]string{"depth": "6"}, Model: &ModelSpec{Name: "crop", Path: "model", MetricsFile: "m.json"},
		Commit: "0123456789abcdef0123456789abcdef01234567", CacheKey: "k", Remote: "shelf", RemoteURL: "../shelf"}
	f.Add(good.Encode())
	f.Add("e30=") // {}
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := DecodeSpec(s)
		if err != nil {
			return
		}
		again, err := DecodeSpec(sp.Encode())
		if err != nil {
			t.Fatalf("a decoded spec does not decode again: %v", err)
		}
		// Compared as encoded: an empty list and none encode alike.
		if sp.Encode() != again.Encode() {
			t.Fatalf("round trip differs:\n%+v\n%+v", sp, again)
		}
	})
}

// FuzzParseSlurm: whatever scontrol and sacct print, dv reads a state
// from it without panicking.
func FuzzParseSlurm(f *testing.F) {
	f.Add("JobId=7 JobName=dv JobState=RUNNING Reason=None ExitCode=0:0 BatchHost=node1 NodeList=node1")
	f.Add("COMPLETED|0:0|node1\n")
	f.Add(" |0:0|node1")
	f.Add("FAILED|1:0|")
	f.Fuzz(func(t *testing.T, s string) {
		_ = parseScontrol(s)
		_, _ = parseSacct(s)
	})
}
