package local

import (
	"testing"

	"github.com/dv-ml/dv/remote"
	"github.com/dv-ml/dv/remote/remotetest"
)

func TestConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Store {
		s, err := New(t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
