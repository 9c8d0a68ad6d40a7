package agent

import (
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime/runtimetest"
)

// The agent's tests stand slowRuntime in for containerd; it must do what
// containerd does wherever the agent relies on it.
func TestSlowRuntimeConformsToContainerd(t *testing.T) {
	runtimetest.Run(t, func(*testing.T) runtimetest.Subject {
		rt := newSlowRuntime(time.Millisecond)
		rt.Store = runtimetest.NewStore("r/none:1")
		return runtimetest.Subject{Runtime: rt, Ref: "r/ref:1", Other: "r/other:1", Missing: "r/none:1",
			Layers: map[string]int64{"sha256:l1": 100, "sha256:l2": 50}}
	})
}
