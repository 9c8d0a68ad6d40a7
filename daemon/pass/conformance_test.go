package pass

import (
	"testing"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime/runtimetest"
)

// The warmer's tests stand fakeRuntime in for containerd; it must do what
// containerd does wherever the warmer relies on it.
func TestFakeRuntimeConformsToContainerd(t *testing.T) {
	runtimetest.Run(t, func(*testing.T) runtimetest.Subject {
		rt := newFakeRuntime()
		rt.Store = runtimetest.NewStore("r/none:1")
		return runtimetest.Subject{Runtime: rt, Ref: "r/ref:1", Other: "r/other:1", Missing: "r/none:1",
			Layers: map[string]int64{"sha256:l1": 100, "sha256:l2": 50}}
	})
}
