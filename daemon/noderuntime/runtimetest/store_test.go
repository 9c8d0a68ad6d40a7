package runtimetest

import (
	"context"
	"testing"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
)

// storeRuntime is the least fake: a Store and a Pull that does nothing
// else.
type storeRuntime struct{ *Store }

func (r storeRuntime) Pull(ctx context.Context, ref string, opts noderuntime.PullOptions) (noderuntime.ImageStatus, error) {
	if err := r.Start(ctx, ref); err != nil {
		return noderuntime.ImageStatus{}, err
	}
	return r.Finish(ref, opts), nil
}

func TestStoreConformsToContainerd(t *testing.T) {
	Run(t, func(*testing.T) Subject {
		return Subject{Runtime: storeRuntime{NewStore("r/none:1")}, Ref: "r/ref:1", Other: "r/other:1", Missing: "r/none:1",
			Layers: map[string]int64{"sha256:l1": 100, "sha256:l2": 50}}
	})
}

// An image another tool put on the node is never the daemon's to remove
// or unpin.
func TestUnpinLeavesOthersImagesAndPins(t *testing.T) {
	s := NewStore()
	s.Put("r/ami:1", noderuntime.ImageStatus{Present: true, Complete: true, Unpacked: true, Pinned: true})
	s.Put("r/cri:1", noderuntime.ImageStatus{Present: true, Complete: true, Unpacked: true})
	if err := s.Pin(t.Context(), "r/cri:1"); err != nil {
		t.Fatal(err)
	}
	unpinned, removed, _ := s.Unpin(t.Context(), true)
	if len(unpinned) != 1 || unpinned[0] != "r/cri:1" || len(removed) != 0 {
		t.Fatalf("unpinned %v, removed %v; want only our pin on r/cri:1 released", unpinned, removed)
	}
	if st, _ := s.Status(t.Context(), "r/ami:1"); !st.Pinned || !st.Present {
		t.Fatalf("the AMI's pinned image: %+v", st)
	}
}
