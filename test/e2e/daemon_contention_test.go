//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// kubelet pulls an image the daemon is warming (a pod lands on the node
// mid-warm). On containerd 2.x both go through the Transfer service, whose
// unpack duplication suppressor is shared by every transfer request, so
// each layer is unpacked once; a client pull beside it would unpack every
// layer a second time (containerd#11451: 38 min each instead of 19 alone).
// On 1.7 (no Transfer service) CRI pulls on its own; a daemon that starts
// second waits while kubelet's pull of the image visibly moves, and then
// finds every layer unpacked.
func TestDaemonAndKubeletPullingOneImageUnpackEachLayerOnce(t *testing.T) {
	t.Run("kubelet pulls mid-warm", func(t *testing.T) {
		r, applied := startRig(t, bigImageFleet)
		if strings.HasPrefix(r.Containerd.Line, "1.") {
			t.Skip("containerd 1.7's CRI pulls on its own once it starts; only a daemon that starts second can wait")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ref := applied.Ref("apps/big:1")
		prepares := countPrepares(ctx, t, r.Containerd)
		r.Registry.Throttle(8 << 20)
		d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref}})
		waitPulling(t, d, ref)
		if _, err := r.Containerd.CRIPull(ctx, ref); err != nil {
			t.Fatalf("kubelet's pull: %v", err)
		}
		checkUnpackedOnce(t, d, ref, prepares)
		checkFetchedOnce(t, r)
	})
	t.Run("the daemon starts while kubelet pulls", func(t *testing.T) {
		r, applied := startRig(t, bigImageFleet)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ref := applied.Ref("apps/big:1")
		prepares := countPrepares(ctx, t, r.Containerd)
		// 2 MiB/s per layer: kubelet fetches each 8 MiB layer in about
		// 4 s, so the daemon starts while it fetches even on a machine
		// busy enough that starting the daemon takes seconds (at 4 MiB/s,
		// under make test's load, a daemon once started as kubelet's last
		// layer unpacked).
		r.Registry.Throttle(2 << 20)
		daemonBinary(t) // built before, so the daemon starts at once
		kubelet := make(chan error, 1)
		go func() { _, err := r.Containerd.CRIPull(ctx, ref); kubelet <- err }()
		eventually.Within(30*time.Second, func() bool { _, blobs, _ := r.Registry.Counts(); return blobs > 0 })
		d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref}})
		if err := <-kubelet; err != nil {
			t.Fatalf("kubelet's pull: %v", err)
		}
		checkUnpackedOnce(t, d, ref, prepares)
		checkFetchedOnce(t, r)
	})
}

// checkFetchedOnce: the two pulls together took the registry's bytes of
// one. With the registry throttled, as a Windows node's registry
// connections are, time is bytes over bandwidth: the race costs one pull's
// time, not two (what make bench measures as time).
func checkFetchedOnce(t *testing.T, r *rig.Rig) {
	t.Helper()
	const layers = 3 * 8 << 20
	if _, gets, bytes := r.Registry.Counts(); bytes > layers+layers/20 {
		t.Errorf("the registry sent %d bytes in %d blob GETs for an image of %d bytes of layers: fetched twice", bytes, gets, layers)
	} else {
		t.Logf("the registry sent %d bytes in %d blob GETs for %d bytes of layers", bytes, gets, layers)
	}
}

func checkUnpackedOnce(t *testing.T, d *daemon, ref string, prepares func() (int, int)) {
	t.Helper()
	p := d.waitDone(2 * time.Minute)
	if s := stateOf(p.Images, ref); s.State != contract.Ready {
		t.Fatalf("warm: %+v", s)
	}
	time.Sleep(500 * time.Millisecond) // let the last events arrive
	total, chains := prepares()
	if chains != 3 || total != chains {
		t.Errorf("%d layer unpacks for %d layers: each layer must be unpacked once", total, chains)
	}
}

// countPrepares is the rig's unpack counter on c.
func countPrepares(ctx context.Context, t *testing.T, c *rig.Containerd) func() (total, chains int) {
	t.Helper()
	count, err := c.CountUnpacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return count
}
