//go:build linux

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
)

// A daemon killed mid-pull (a node drained, an OOM kill) leaves behind
// the lease its pull held, which keeps the half-fetched content from
// containerd's garbage collection for 24 hours (v2.4.2 client/lease.go).
// The next daemon on the node (here the same pod's container, restarted)
// releases it once its first pass has ended (TestDaemonKilledWithoutA
// SignalResumesInTheNextPod holds that the pass resumes what it held).
func TestDaemonReleasesTheLeaseOfAPullKilledMidway(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	ref := applied.Ref("apps/a1:1")
	node := applied.Nodes["workers"][0]
	leases := nodeClient(t, r.Containerd.Address).LeasesService()
	r.Registry.Throttle(512 << 10)
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	if !eventually.Within(time.Minute, func() bool { return d.state().Images != nil && stateOf(d.state().Images, ref).BytesDone != 0 }) {
		t.Fatalf("the pull never started: %+v", d.state())
	}
	_ = d.cmd.Process.Kill()
	<-d.exited
	left, err := leases.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) == 0 {
		t.Fatal("the killed pull left no lease: the test cannot tell a release from nothing")
	}
	r.Registry.Throttle(0)
	// kubelet restarts the container in the same pod.
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	if p := d2.waitDone(2 * time.Minute); stateOf(p.Images, ref).State != contract.Ready {
		t.Fatalf("the next daemon: %+v", p)
	}
	// The lease is kept until the next daemon's first pass has ended, so
	// its pulls resume what the killed one fetched; then it goes.
	held := func() []string {
		now, err := leases.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range now {
			for _, old := range left {
				if l.ID == old.ID {
					ids = append(ids, l.ID)
				}
			}
		}
		return ids
	}
	var ids []string
	if !eventually.Within(10*time.Second, func() bool { ids = held(); return len(ids) == 0 }) {
		t.Fatalf("leases %v of the killed pull still held after the next daemon's pass", ids)
	}
}
