//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
)

func TestDaemonPacesNodesThroughLeasesAndReleasesThemOnSIGTERM(t *testing.T) {
	r, applied := startRig(t, bigImageFleet+"- {name: more, kind: managed, os: linux, count: 1, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}\n")
	ctx := context.Background()
	second, err := r.StartContainerd(ctx, "node-b")
	if err != nil {
		t.Fatal(err)
	}
	ref := applied.Ref("apps/big:1")
	r.Registry.Throttle(8 << 20)
	pace := []string{"--max-concurrent-nodes", "1"}
	a := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref}, extra: pace})
	b := startDaemon(t, r, daemonOpts{node: applied.Nodes["more"][0], containerd: second, images: []string{ref}, extra: pace})
	var overlap, sawWait atomic.Bool
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			sa, sb := stateOf(a.state().Images, ref), stateOf(b.state().Images, ref)
			if sa.BytesDone > 0 && sa.State != contract.Ready && sb.BytesDone > 0 && sb.State != contract.Ready {
				overlap.Store(true)
			}
			if strings.Contains(sa.Reason+sb.Reason, "waiting for a cluster-wide pull slot") {
				sawWait.Store(true)
			}
		}
	}()
	pa, pb := a.waitDone(2*time.Minute), b.waitDone(2*time.Minute)
	close(stop)
	if !pa.AllReady() || !pb.AllReady() {
		t.Fatalf("a %+v, b %+v", pa, pb)
	}
	if overlap.Load() {
		t.Error("both nodes pulled at once with --max-concurrent-nodes 1")
	}
	if !sawWait.Load() {
		t.Error("neither node was seen waiting for the slot")
	}
	// The slot is released after each run and on SIGTERM: no holder left.
	_ = a.stop()
	_ = b.stop()
	lease, err := r.Client.CoordinationV1().Leases("winimage-system").Get(ctx, "winimage-pull-slot-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("lease still held by %q after both daemons stopped", *h)
	}
}

func TestDaemonStartupTaintUnpinAndDiskGuard(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	node := applied.Nodes["workers"][0]
	taint := "winimage.io/warming"
	setTaint(ctx, t, r, node, taint)
	// An image someone else already pinned must stay pinned after unpin.
	theirs := applied.Ref("apps/b3:1")
	if _, err := r.Containerd.CRIPull(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	pinTheirs(t, r.Containerd.Address, theirs)

	refs := []string{applied.Ref("apps/a1:1"), applied.Ref("apps/b1:1"), theirs}
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: refs, extra: []string{"--startup-taint", taint}})
	if p := d.waitDone(2 * time.Minute); !p.AllReady() {
		t.Fatalf("%+v", p)
	}
	var n *corev1.Node
	eventually.Within(10*time.Second, func() bool {
		n, _ = r.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		return !hasTaint(n, taint)
	})
	if hasTaint(n, taint) {
		t.Errorf("startup taint %s still on the node after every image was Ready", taint)
	}
	if !hasTaint(n, "os") && n.Labels["kubernetes.io/os"] == "windows" {
		t.Error("other taints were removed")
	}
	_ = d.stop()

	// Unpin: our pins go, theirs stays; with --remove-unused, our images go.
	out := runOK(t, nil, daemonBinary(t), "unpin", "--containerd-address", r.Containerd.Address)
	var res contract.UnpinResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Unpinned) != 6 { // the tag, digest and image-id records of a1 and b1, as CRI writes them
		t.Errorf("unpinned %v, want both records of our two images", res.Unpinned)
	}
	for _, ref := range refs[:2] {
		if img := criImageOnceSettled(t, r.Containerd, ref, func(img *runtimeapi.Image) bool { return img != nil && !img.Pinned }); img == nil || img.Pinned {
			t.Errorf("%s after unpin: %+v", ref, img)
		}
	}
	if img := criImage(t, r.Containerd, theirs); img == nil || !img.Pinned {
		t.Errorf("someone else's pin was removed: %+v", img)
	}

	// Disk guard: a threshold below current use skips new images, and says why.
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{applied.Ref("apps/a2:1")}, extra: []string{"--disk-threshold", "0.0001"}})
	p := d2.waitDone(time.Minute)
	if s := stateOf(p.Images, applied.Ref("apps/a2:1")); s.State != contract.Skipped || !strings.Contains(s.Reason, "kubelet evicts pods") {
		t.Errorf("disk guard: %+v", s)
	}
	// Changing the list warms the new image without restarting.
	d2.stop()
	d3 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: refs[:1]})
	d3.waitDone(time.Minute)
	d3.setImages(refs[0], applied.Ref("apps/a3:1"))
	eventually.Within(time.Minute, func() bool { p := d3.state(); return p.Total == 2 && p.AllReady() })
	if p := d3.state(); p.Total != 2 || !p.AllReady() {
		t.Fatalf("after the list changed: %+v", p)
	}
	if img := criImage(t, r.Containerd, applied.Ref("apps/a3:1")); img == nil || !img.Pinned {
		t.Errorf("image added to the list: %+v", img)
	}

	// Uninstall with --remove-unused: the images we added and pinned (a1,
	// a3) go; what others pinned or we no longer pin stays.
	_ = d3.stop()
	out = runOK(t, nil, daemonBinary(t), "unpin", "--containerd-address", r.Containerd.Address, "--remove-unused")
	res = contract.UnpinResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Removed) != 6 || len(res.Unpinned) != 0 {
		t.Errorf("unpin --remove-unused: %s, want a1 and a3 (tag, digest and id records) removed", out)
	}
	for _, ref := range []string{applied.Ref("apps/a1:1"), applied.Ref("apps/a3:1")} {
		if img := criImage(t, r.Containerd, ref); img != nil {
			t.Errorf("%s still listed by CRI after removal", ref)
		}
	}
	if img := criImage(t, r.Containerd, theirs); img == nil || !img.Pinned {
		t.Errorf("someone else's image was touched: %+v", img)
	}
	if img := criImage(t, r.Containerd, applied.Ref("apps/b1:1")); img == nil {
		t.Error("an image we had already unpinned was removed")
	}
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}
