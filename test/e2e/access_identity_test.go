//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// RBAC cannot name "its own pod" or "its own node", so warm installs
// admission policies keyed on the claims of the token kubelet gives a
// daemon pod. Acting with exactly such a token (TokenRequest bound to the
// pod, as kubelet issues it), one node's daemon may annotate its own pod
// with its progress, record Events about its own node in default and drop
// the startup taint from its own node; every other write a stolen token
// might try is refused, and a token of the daemon's account without pod
// claims is refused even what the pod's own token may do.
func TestADaemonTokenReachesOnlyItsOwnPodAndNode(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	nodes := applied.Nodes["workers"]
	const teamTaint = "team.example/dedicated"
	for _, n := range nodes {
		setTaint(ctx, t, r, n, startupTaint)
		setTaint(ctx, t, r, n, teamTaint)
	}
	if out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e",
		"--startup-taint", startupTaint, "--toleration", teamTaint+":NoSchedule", applied.Ref("apps/b1:1")); code != 0 {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, stderr)
	}
	own, other := nodes[0], nodes[1]
	daemon, ownPod := daemonClientOn(ctx, t, r, own, true)
	_, otherPod := daemonClientOn(ctx, t, r, other, true)
	unbound, _ := daemonClientOn(ctx, t, r, own, false)
	if _, err := r.Client.CoreV1().Secrets("winimage-system").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	patchPod := func(c kubernetes.Interface, pod, patch string) error {
		_, err := c.CoreV1().Pods("winimage-system").Patch(ctx, pod, types.JSONPatchType, []byte(patch), metav1.PatchOptions{})
		return err
	}
	progress := func(c kubernetes.Interface, pod string) error {
		p := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, contract.AnnotationProgress, `{"node":"x","updated":"`+time.Now().UTC().Format(time.RFC3339Nano)+`"}`)
		_, err := c.CoreV1().Pods("winimage-system").Patch(ctx, pod, types.MergePatchType, []byte(p), metav1.PatchOptions{})
		return err
	}
	// A change to a node goes as a patch, the verb the daemon holds on
	// nodes; the own-node policy judges the object it makes.
	updateNode := func(c kubernetes.Interface, node string, change func(*corev1.Node)) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			before, err := json.Marshal(n)
			if err != nil {
				return err
			}
			change(n)
			after, err := json.Marshal(n)
			if err != nil {
				return err
			}
			patch, err := strategicpatch.CreateTwoWayMergePatch(before, after, corev1.Node{})
			if err != nil {
				return err
			}
			_, err = c.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		})
	}
	dropTaint := func(key string) func(*corev1.Node) {
		return func(n *corev1.Node) {
			kept := n.Spec.Taints[:0]
			for _, tt := range n.Spec.Taints {
				if tt.Key != key {
					kept = append(kept, tt)
				}
			}
			n.Spec.Taints = kept
		}
	}
	event := func(c kubernetes.Interface, namespace, kind, name string) error {
		involved := corev1.ObjectReference{Kind: kind, Name: name, APIVersion: "v1"}
		if kind == "Pod" {
			involved.Namespace = namespace
		}
		_, err := c.CoreV1().Events(namespace).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "probe.", Namespace: namespace},
			InvolvedObject: involved,
			Reason:         "Probe", Message: "probe", Type: corev1.EventTypeNormal,
		}, metav1.CreateOptions{})
		return err
	}

	// The API server loads new policies asynchronously: wait until the
	// daemon can no longer relabel its own pod (a new value each time,
	// since an unchanged object is no change at all).
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		v := strconv.FormatInt(time.Now().UnixNano(), 10)
		return patchPod(daemon, ownPod, `[{"op":"add","path":"/metadata/labels/probe","value":"`+v+`"}]`) != nil, nil
	}); err != nil {
		t.Fatal("the daemon could still relabel its pod a minute after warm installed the policies")
	}

	denied := []struct {
		name string
		try  func() error
	}{
		{"another pod's image", func() error {
			return patchPod(daemon, otherPod, `[{"op":"replace","path":"/spec/containers/0/image","value":"evil.example/own:1"}]`)
		}},
		{"another pod's labels", func() error {
			return patchPod(daemon, otherPod, `[{"op":"add","path":"/metadata/labels/stolen","value":"yes"}]`)
		}},
		{"another pod's progress", func() error { return progress(daemon, otherPod) }},
		{"its own pod's image", func() error {
			return patchPod(daemon, ownPod, `[{"op":"replace","path":"/spec/containers/0/image","value":"evil.example/own:1"}]`)
		}},
		{"its own pod's other annotations", func() error {
			return patchPod(daemon, ownPod, `[{"op":"add","path":"/metadata/annotations","value":{"evil":"1"}}]`)
		}},
		{"its own pod's finalizers", func() error {
			return patchPod(daemon, ownPod, `[{"op":"add","path":"/metadata/finalizers","value":["example.com/hold"]}]`)
		}},
		{"an event in kube-system", func() error { return event(daemon, "kube-system", "Pod", "kube-proxy-x") }},
		{"an event about another node", func() error { return event(daemon, "default", "Node", other) }},
		{"an event about a pod", func() error { return event(daemon, "default", "Pod", ownPod) }},
		{"untaint another node", func() error { return updateNode(daemon, other, dropTaint(startupTaint)) }},
		{"drop another taint of its own node", func() error { return updateNode(daemon, own, dropTaint(teamTaint)) }},
		{"taint its own node", func() error {
			return updateNode(daemon, own, func(n *corev1.Node) {
				n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "evil", Effect: corev1.TaintEffectNoExecute})
			})
		}},
		{"label its own node", func() error { return updateNode(daemon, own, func(n *corev1.Node) { n.Labels["stolen"] = "yes" }) }},
		{"cordon its own node", func() error { return updateNode(daemon, own, func(n *corev1.Node) { n.Spec.Unschedulable = true }) }},
		{"own its own node", func() error {
			return updateNode(daemon, own, func(n *corev1.Node) {
				n.OwnerReferences = append(n.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "Namespace", Name: "default", UID: "u"})
			})
		}},
		{"hold its own node", func() error {
			return updateNode(daemon, own, func(n *corev1.Node) { n.Finalizers = append(n.Finalizers, "example.com/hold") })
		}},
		{"read a Secret", func() error {
			_, err := daemon.CoreV1().Secrets("winimage-system").Get(ctx, "regcred", metav1.GetOptions{})
			return err
		}},
		{"rewrite the image list", func() error {
			_, err := daemon.CoreV1().ConfigMaps("winimage-system").Patch(ctx, contract.ConfigMapName, types.MergePatchType, []byte(`{"data":{"x":"y"}}`), metav1.PatchOptions{})
			return err
		}},
		{"unbound: its progress", func() error { return progress(unbound, ownPod) }},
		{"unbound: an event about its node", func() error { return event(unbound, "default", "Node", own) }},
		{"unbound: drop the startup taint", func() error { return updateNode(unbound, own, dropTaint(startupTaint)) }},
	}
	for _, c := range denied {
		if err := c.try(); err == nil {
			t.Errorf("%s: allowed", c.name)
		} else if !strings.Contains(err.Error(), "forbidden") && !strings.Contains(err.Error(), "denied") {
			t.Errorf("%s: %v; want it refused by RBAC or admission", c.name, err)
		}
	}

	// What the daemon does, it still may.
	if err := progress(daemon, ownPod); err != nil {
		t.Errorf("the daemon could not publish its progress: %v", err)
	}
	if err := event(daemon, "default", "Node", own); err != nil {
		t.Errorf("the daemon could not record an event about its node: %v", err)
	}
	if err := updateNode(daemon, own, dropTaint(startupTaint)); err != nil {
		t.Errorf("the daemon could not drop the startup taint from its own node: %v", err)
	}
	out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "remove")
	for _, name := range []string{warm.OwnPodPolicyName, warm.NodeEventsPolicyName, warm.OwnNodePolicyName} {
		if code != 0 || !strings.Contains(out, "validatingadmissionpolicy//"+name+" deleted") {
			t.Errorf("warm remove left %s: exit %d\n%s\n%s", name, code, out, stderr)
		}
	}
}

// daemonClientOn acts as the daemon pod on node does: with a token bound
// to that pod, issued as kubelet issues it (bound), or with one of the
// same account carrying no pod (a stolen legacy token, say).
func daemonClientOn(ctx context.Context, t *testing.T, r *rig.Rig, node string, bound bool) (kubernetes.Interface, string) {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := r.Client.CoreV1().Pods("winimage-system").List(ctx, metav1.ListOptions{LabelSelector: warm.DaemonPodSelector})
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
	var kubeconfig string
	if bound {
		kubeconfig, err = r.PodKubeconfig(ctx, pod)
	} else {
		kubeconfig, err = r.ServiceAccountKubeconfig(ctx, pod.Namespace, pod.Spec.ServiceAccountName)
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, pod.Name
}
