//go:build linux

package e2e

import (
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
)

// On Windows Server 2022 and later hcsshim runs a HostProcess command
// through cmd /c, and the stop signal never reaches the daemon: it is
// killed outright. Nothing may depend on a graceful stop: the next pod
// picks the half-done pull up where containerd's ingest left it, without
// fetching the bytes again.
func TestDaemonKilledWithoutASignalResumesInTheNextPod(t *testing.T) {
	r, applied := startRig(t, bigImageFleet)
	ref := applied.Ref("apps/big:1")
	node := applied.Nodes["workers"][0]
	r.Registry.Throttle(4 << 20)
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	var before contract.ImageState
	eventually.Within(time.Minute, func() bool {
		before = stateOf(d.state().Images, ref)
		if before.State == contract.Ready {
			t.Fatal("pull finished before it could be killed")
		}
		return before.BytesTotal > 0 && before.BytesDone > before.BytesTotal/2 && before.BytesDone < before.BytesTotal
	})
	if before.BytesDone <= before.BytesTotal/2 {
		t.Fatalf("never past half way: %+v", before)
	}
	if err := d.cmd.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	<-d.exited

	r.Registry.Throttle(0)
	r.Registry.ResetCounts()
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	p := d2.waitDone(2 * time.Minute)
	if !p.AllReady() {
		t.Fatalf("the next pod: %+v", p)
	}
	// Layers fetch side by side; what each writer had not yet handed to
	// containerd when the process died (up to its buffer) comes again.
	_, _, served := r.Registry.Counts()
	if left := before.BytesTotal - before.BytesDone; served > left+3<<20 {
		t.Errorf("the next pod fetched %d bytes; %d were left (%d of %d done when killed)", served, left, before.BytesDone, before.BytesTotal)
	}
	if img := criImage(t, r.Containerd, ref); img == nil || !img.Pinned {
		t.Errorf("CRI after the resumed pull: %+v", img)
	}
}

// A proxy or cache that refuses Range requests would leave a half-written
// blob that every resume fails on, forever, for the daemon and kubelet
// alike. The daemon drops such an ingest and starts the blob again.
func TestDaemonRestartsABlobWhoseResumeTheRegistryRefuses(t *testing.T) {
	r, applied := startRig(t, bigImageFleet)
	ref := applied.Ref("apps/big:1")
	node := applied.Nodes["workers"][0]
	r.Registry.Throttle(4 << 20)
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	waitPulling(t, d, ref)
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	r.Registry.Throttle(0)
	r.Registry.RefuseRanges(true)
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}})
	p := d2.waitDone(time.Minute)
	if s := stateOf(p.Images, ref); s.State != contract.Ready {
		t.Fatalf("with ranges refused: %+v", s)
	}
	if img := criImage(t, r.Containerd, ref); img == nil {
		t.Fatal("CRI does not list the image")
	}
}
