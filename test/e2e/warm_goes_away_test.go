//go:build linux

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

const startupTaint = "winimage.io/warming"

// Nodes and the DaemonSet go away mid-warm, as scale-ins, spot reclaims
// and hurried uninstalls make them: the node holding the only pull slot is
// terminated (its daemon gets no signal and never releases the Lease), and
// later the DaemonSet is deleted while a daemon pulls. The slot expires and
// the other node takes it; `warm --wait` settles on the nodes that remain;
// `warm remove` leaves nothing: no object, no Lease, and no startup taint
// on a node, which would otherwise keep every workload off it.
func TestWarmWhenANodeOrTheDaemonSetGoesAway(t *testing.T) {
	r, applied := startRig(t, slowFleet)
	ctx := context.Background()
	names := applied.Nodes["workers"]
	nodes, kubelet := standIn(t, r, names)
	for _, n := range names {
		setTaint(ctx, t, r, n, startupTaint)
	}
	r.Registry.Throttle(1 << 20)
	warmArgs := []string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", "--disk-threshold", "1",
		"--max-concurrent-nodes", "1", "--startup-taint", startupTaint}
	slow, slow2 := applied.Ref("apps/slow:1"), applied.Ref("apps/slow2:1")

	var survivor string
	phase(t, "the slot holder's node is terminated mid-pull", func(t *testing.T) {
		waiting := startPlugin(t, r.Kubeconfig, append(warmArgs, "--wait", "--timeout", "4m", slow)...)
		holder := slotHolder(t, r, names)
		waitBytes(t, r, holder)
		kubelet.RemoveNode(holder)
		if err := r.Client.CoreV1().Nodes().Delete(ctx, holder, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		survivor = names[0]
		if survivor == holder {
			survivor = names[1]
		}
		waiting.waitFor(t, 3*time.Minute, "all 1 nodes warm")
		if img := criImage(t, nodes[survivor], slow); img == nil || !img.Pinned {
			t.Errorf("%s: CRI has %+v", survivor, img)
		}
		if carriesStartupTaint(ctx, t, r, survivor) {
			t.Errorf("%s kept its startup taint once warm", survivor)
		}
	})

	phase(t, "the DaemonSet is deleted mid-pull, then remove leaves nothing", func(t *testing.T) {
		setTaint(ctx, t, r, survivor, startupTaint)
		if out, stderr, code := runPlugin(t, r.Kubeconfig, append(warmArgs, slow, slow2)...); code != 0 {
			t.Fatalf("warm: exit %d\n%s\n%s", code, out, stderr)
		}
		slotHolder(t, r, []string{survivor})
		waitBytes(t, r, survivor)
		if err := r.Client.AppsV1().DaemonSets("winimage-system").Delete(ctx, warm.DaemonName, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "remove")
		if code != 0 || !strings.Contains(out, "nothing left") {
			t.Fatalf("warm remove: exit %d\n%s\n%s", code, out, stderr)
		}
		if !strings.Contains(out, "node/"+survivor+" startup taint "+startupTaint+" removed") || !strings.Contains(stderr, "note: nodes that join with the taint "+startupTaint) {
			t.Errorf("warm remove did not say it dropped the taint:\n%s\n%s", out, stderr)
		}
		if carriesStartupTaint(ctx, t, r, survivor) {
			t.Errorf("%s keeps the startup taint after warm remove: no workload can land on it", survivor)
		}
		if _, err := r.Client.CoreV1().Namespaces().Get(ctx, "winimage-system", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace after remove: %v", err)
		}
		if leases, err := r.Client.CoordinationV1().Leases("winimage-system").List(ctx, metav1.ListOptions{}); err != nil || len(leases.Items) != 0 {
			t.Errorf("leases after remove: %v %v", leases, err)
		}
	})
}

// slotHolder waits until one of nodes holds the only pull slot.
func slotHolder(t *testing.T, r *rig.Rig, nodes []string) string {
	t.Helper()
	var holder string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := r.Client.CoordinationV1().Leases("winimage-system").Get(ctx, contract.SlotLease(contract.SlotLeasePrefix, 0), metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return false, nil
		}
		holder = *l.Spec.HolderIdentity
		return slices.Contains(nodes, holder), nil
	})
	if err != nil {
		t.Fatalf("no node of %v took the pull slot (holder %q)", nodes, holder)
	}
	return holder
}

// waitBytes waits until node's daemon has published layer bytes fetched
// and not all of them: it is mid-pull.
func waitBytes(t *testing.T, r *rig.Rig, node string) {
	t.Helper()
	st := statusOf(t, r.Kubeconfig, 2*time.Minute, func(s *warm.StatusReport) bool {
		for _, n := range s.Nodes {
			if n.Node == node && n.BytesDone > 0 && n.BytesDone < n.BytesTotal {
				return true
			}
		}
		return false
	})
	t.Logf("%s mid-pull: %+v", node, st.Summary)
}

func carriesStartupTaint(ctx context.Context, t *testing.T, r *rig.Rig, node string) bool {
	t.Helper()
	n, err := r.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return hasTaint(n, startupTaint)
}
