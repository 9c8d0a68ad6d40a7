//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// A startup taint must never lock a node out. The node group here gives
// it NoExecute (by mistake) and adds a taint of its own; the DaemonSet
// tolerates its startup taint whatever the effect and the group's taint
// given with --toleration, so the real daemons land, acting with their
// pods' bound tokens under warm's admission policies. One image does not
// exist: the pass ends with it Failed, and each daemon lifts the taint
// from its own node anyway, saying why in an Event and in warm status.
func TestTheStartupTaintNeverLocksANodeOut(t *testing.T) {
	r, applied := startRig(t, strings.Replace(standInFleet, "count: 3", "count: 2", 1))
	ctx := context.Background()
	names := applied.Nodes["workers"]
	const teamTaint = "team.example/dedicated"
	for _, n := range names {
		addTaint(ctx, t, r.Client, n, corev1.Taint{Key: startupTaint, Effect: corev1.TaintEffectNoExecute})
		addTaint(ctx, t, r.Client, n, corev1.Taint{Key: teamTaint, Value: "win", Effect: corev1.TaintEffectNoSchedule})
	}
	standIn(t, r, names)
	good, missing := applied.Ref("apps/b1:1"), applied.Ref("apps/b1:1")+"-missing"
	deploy := []string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", "--disk-threshold", "1", "--toleration", teamTaint + "=win:NoSchedule", good, missing}

	_, stderr, code := runPlugin(t, r.Kubeconfig, append(deploy, "--startup-taint", startupTaint+":NoExecute")...)
	if code != 1 || !strings.Contains(stderr, "NoExecute would evict") {
		t.Errorf("--startup-taint with NoExecute: exit %d, %q", code, stderr)
	}
	if _, err := r.Client.CoreV1().Namespaces().Get(ctx, "winimage-system", metav1.GetOptions{}); err == nil {
		t.Error("a refused warm created its namespace")
	}
	if out, stderr, code := runPlugin(t, r.Kubeconfig, append(deploy, "--startup-taint", startupTaint)...); code != 0 {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, n := range names {
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			node, err := r.Client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			return err == nil && !hasTaint(node, startupTaint), nil
		}); err != nil {
			t.Fatalf("%s kept the startup taint although its pass ended", n)
		}
		node, _ := r.Client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if !hasTaint(node, teamTaint) {
			t.Errorf("%s lost the node group's own taint", n)
		}
		evs, err := r.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=StartupTaintLifted,involvedObject.name=" + n})
		if err != nil || len(evs.Items) != 1 || evs.Items[0].Type != corev1.EventTypeWarning || !strings.Contains(evs.Items[0].Message, "1 of 2 images not warm ("+missing+" Failed)") {
			t.Errorf("%s: StartupTaintLifted events %+v, %v", n, evs, err)
		}
	}
	statusOf(t, r.Kubeconfig, time.Minute, func(s *warm.StatusReport) bool {
		lifted := 0
		for _, n := range s.Nodes {
			for _, w := range n.Warnings {
				if strings.Contains(w, "startup taint "+startupTaint+" lifted with 1 of 2 images not warm") {
					lifted++
				}
			}
		}
		return lifted == len(names)
	})
	if _, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "remove"); code != 0 {
		t.Fatalf("remove: exit %d\n%s", code, stderr)
	}
}

// addTaint adds taint to node, as a node group would.
func addTaint(ctx context.Context, t *testing.T, client kubernetes.Interface, node string, taint corev1.Taint) {
	t.Helper()
	// kwok keeps writing the node, so the update may need a fresh copy.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Spec.Taints = append(n.Spec.Taints, taint)
		_, err = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
