package pass

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// The node's pull slot is held for a pull, not a pass: given back between
// images (other nodes may pull meanwhile), never held while nothing pulls.
func TestTheSlotIsHeldPerPullNotPerPass(t *testing.T) {
	rt := newFakeRuntime()
	var mu sync.Mutex
	var held bool
	var events []string
	w := &Warmer{Runtime: rt, Planner: fakePlanner{"r/a:1": {Digest: "sha256:r/a:1"}, "r/b:1": {Digest: "sha256:r/b:1"}}, Chains: 1,
		Slot: func(context.Context) (func(), error) {
			mu.Lock()
			defer mu.Unlock()
			if held {
				t.Error("the slot was taken twice at once")
			}
			held = true
			events = append(events, "acquire")
			return func() { mu.Lock(); defer mu.Unlock(); held = false; events = append(events, "release") }, nil
		}}
	w.Run(t.Context(), list("r/a:1", "r/b:1"))
	if got := strings.Join(events, " "); got != "acquire release acquire release" {
		t.Errorf("slot %s, want it taken and given back around each pull", got)
	}
	// A recheck that pulls nothing takes no slot.
	events = nil
	w.Run(t.Context(), list("r/a:1", "r/b:1"))
	if len(events) != 0 {
		t.Errorf("a recheck took the slot: %v", events)
	}
}
