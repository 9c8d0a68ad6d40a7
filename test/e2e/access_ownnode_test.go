//go:build linux

package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// RBAC cannot narrow `update nodes` to one node, so with --startup-taint
// warm also installs a ValidatingAdmissionPolicy: the daemon's account,
// with the token kubelet gives its pod (which names the pod's node), may
// remove taints from that node and change nothing else, on no other node.
// A stolen daemon token can no longer cordon, relabel or taint the fleet.
func TestTheDaemonMayOnlyUntaintItsOwnNode(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	nodes := applied.Nodes["workers"]
	for _, n := range nodes {
		setTaint(ctx, t, r, n, startupTaint)
	}
	if out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e",
		"--startup-taint", startupTaint, applied.Ref("apps/b1:1")); code != 0 {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, stderr)
	}
	own, other := nodes[0], nodes[1]
	daemon := daemonClientOn(ctx, t, r.RESTConfig, r.Client, own)

	update := func(node string, change func(*corev1.Node)) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := daemon.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			change(n)
			_, err = daemon.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
	}
	dropTaint := func(n *corev1.Node) {
		kept := n.Spec.Taints[:0]
		for _, tt := range n.Spec.Taints {
			if tt.Key != startupTaint {
				kept = append(kept, tt)
			}
		}
		n.Spec.Taints = kept
	}
	denied := []struct {
		name, node, why string
		change          func(*corev1.Node)
	}{
		{"untaint another node", other, "only the node its pod runs on", dropTaint},
		{"label its own node", own, "only remove taints", func(n *corev1.Node) { n.Labels["stolen"] = "yes" }},
		{"cordon its own node", own, "only remove taints", func(n *corev1.Node) { n.Spec.Unschedulable = true }},
		{"taint its own node", own, "only remove taints", func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "evil", Effect: corev1.TaintEffectNoExecute})
		}},
	}
	// The API server loads a new policy asynchronously. Each probe is a
	// new label value: once one got through, the same one again would be
	// no change at all, which the policy rightly lets pass.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		probe := strconv.FormatInt(time.Now().UnixNano(), 10)
		return update(own, func(n *corev1.Node) { n.Labels["probe"] = probe }) != nil, nil
	}); err != nil {
		t.Fatalf("the daemon may still relabel its node a minute after warm installed the policy")
	}
	for _, c := range denied {
		if err := update(c.node, c.change); err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v; want it denied: %q", c.name, err, c.why)
		}
	}
	if err := update(own, dropTaint); err != nil {
		t.Fatalf("the daemon could not drop the startup taint from its own node: %v", err)
	}
	if out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "remove"); code != 0 || !strings.Contains(out, "validatingadmissionpolicy//"+warm.OwnNodePolicyName+" deleted") {
		t.Errorf("warm remove: exit %d\n%s\n%s", code, out, stderr)
	}
}

// daemonClientOn acts as the daemon pod on node does: with a token bound
// to that pod, issued as kubelet issues it.
func daemonClientOn(ctx context.Context, t *testing.T, admin *rest.Config, client kubernetes.Interface, node string) kubernetes.Interface {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods("winimage-system").List(ctx, metav1.ListOptions{LabelSelector: warm.DaemonPodSelector})
		if err != nil {
			return false, nil
		}
		for i := range pods.Items {
			if pods.Items[i].Spec.NodeName == node {
				pod = &pods.Items[i]
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no daemon pod on %s", node)
	}
	expiry := int64(3600)
	tr, err := client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expiry,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = tr.Status.Token
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
