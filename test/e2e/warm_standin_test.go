//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

const standInFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    sc: {layers: [4Mi, 1Mi]}
    nano: {layers: [2Mi]}
  images:
  - {ref: apps/a1:1, bases: [sc], layers: [256Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/a2:1, bases: [sc], layers: [128Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/a3:1, bases: [sc], layers: [64Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/b1:1, bases: [nano], layers: [64Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/b2:1, bases: [nano], layers: [32Ki], windows: [10.0.20348.2582], linux: true}
nodeGroups:
- {name: workers, kind: managed, os: linux, count: 3, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4, standIn: true}
`

// statusOf runs `warm status -o json` until cond holds.
func statusOf(t *testing.T, kubeconfig string, timeout time.Duration, cond func(*warm.StatusReport) bool) *warm.StatusReport {
	t.Helper()
	var last warm.StatusReport
	err := wait.PollUntilContextTimeout(context.Background(), 300*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		out, _, code := runPlugin(t, kubeconfig, "warm", "status", "--os", "linux", "-o", "json")
		if code != 0 {
			return false, nil
		}
		last = warm.StatusReport{}
		if err := json.Unmarshal([]byte(out), &last); err != nil {
			return false, nil
		}
		return cond(&last), nil
	})
	if err != nil {
		b, _ := json.MarshalIndent(last, "", " ")
		t.Fatalf("warm status never matched: %s", b)
	}
	return &last
}

func TestWarmOnRealDaemonsThroughTheKubeletStandIn(t *testing.T) {
	r, applied := startRig(t, standInFleet)
	ctx := context.Background()
	nodes := map[string]*rig.Containerd{}
	for i, n := range applied.Nodes["workers"] {
		c, err := r.StartContainerd(ctx, fmt.Sprintf("node-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		nodes[n] = c
	}
	kubelet, err := r.StartKubelet(ctx, nodes, map[string]string{"winimage-daemon": daemonBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logs, _ := filepath.Glob(filepath.Join(r.Dir, "logs", "*"))
		for _, l := range logs {
			if b := filepath.Base(l); b == "kubelet.log" || strings.HasPrefix(b, "pod-") {
				data, _ := os.ReadFile(l)
				t.Logf("--- %s\n%s", b, tail(string(data), 15))
			}
		}
		nodes, _ := r.Client.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		for _, n := range nodes.Items {
			t.Logf("node %s taints %v unschedulable %v", n.Name, n.Spec.Taints, n.Spec.Unschedulable)
		}
		if ds, err := r.Client.AppsV1().DaemonSets("winimage-system").Get(context.Background(), "winimage-daemon", metav1.GetOptions{}); err == nil {
			t.Logf("daemonset status %+v", ds.Status)
		}
		pods, _ := r.Client.CoreV1().Pods("winimage-system").List(context.Background(), metav1.ListOptions{})
		for _, p := range pods.Items {
			t.Logf("pod %s on %q: %s %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses)
		}
	})
	var images []string
	for _, img := range []string{"apps/a1:1", "apps/a2:1", "apps/a3:1", "apps/b1:1", "apps/b2:1"} {
		images = append(images, applied.Ref(img))
	}
	missing := applied.Ref("apps/nothere:1")
	args := append([]string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e"}, append(images, missing)...)
	if out, stderr, code := runPlugin(t, r.Kubeconfig, args...); code != 0 {
		t.Fatalf("warm: %s %s", out, stderr)
	}
	// Every node settles: the five images Ready, the missing one Failed
	// with its reason, on every node.
	st := statusOf(t, r.Kubeconfig, 3*time.Minute, func(s *warm.StatusReport) bool {
		if s.Summary.Nodes != 3 {
			return false
		}
		for _, n := range s.Nodes {
			if n.State != warm.NodeFailed || n.Ready != 5 || n.Total != 6 {
				return false
			}
		}
		return true
	})
	for _, n := range st.Nodes {
		if len(n.Failures) != 1 || n.Failures[0].Ref != missing || !strings.Contains(n.Failures[0].Reason, "404") {
			t.Errorf("%s failures: %+v", n.Node, n.Failures)
		}
		for _, ref := range images {
			if img := criImage(t, nodes[n.Node], ref); img == nil || !img.Pinned || len(img.RepoDigests) != 1 {
				t.Errorf("%s: %s through CRI: %+v", n.Node, ref, img)
			}
		}
	}
	// The daemon pods are not Ready while an image failed (the probe).
	pods, _ := r.Client.CoreV1().Pods("winimage-system").List(ctx, metav1.ListOptions{LabelSelector: warm.ComponentLabel + "=daemon"})
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				t.Errorf("pod %s Ready with a failed image", p.Name)
			}
		}
	}

	// Dropping the bad image re-warms nothing else, and every node goes Ready.
	args = append([]string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e"}, images...)
	if _, stderr, code := runPlugin(t, r.Kubeconfig, args...); code != 0 {
		t.Fatal(stderr)
	}
	statusOf(t, r.Kubeconfig, 3*time.Minute, func(s *warm.StatusReport) bool { return s.Summary.Ready == 3 })

	// A node that joins later is warmed without any user action.
	newNode := "ip-10-0-99-1.us-east-2.compute.internal"
	c, err := r.StartContainerd(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	kubelet.AddNode(newNode, c)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: newNode, Labels: map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}}
	if _, err := r.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"status":{"nodeInfo":{"operatingSystem":"linux","architecture":"amd64","kernelVersion":"6.1.141"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}],"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"}}}`)
	if _, err := r.Client.CoreV1().Nodes().Patch(ctx, newNode, "application/strategic-merge-patch+json", patch, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	statusOf(t, r.Kubeconfig, 3*time.Minute, func(s *warm.StatusReport) bool { return s.Summary.Nodes == 4 && s.Summary.Ready == 4 })
	for _, ref := range images {
		if img := criImage(t, c, ref); img == nil || !img.Pinned {
			t.Errorf("late node: %s through CRI: %+v", ref, img)
		}
	}

	// Removal leaves no object behind.
	if out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "remove"); code != 0 || !strings.Contains(out, "nothing left") {
		t.Fatalf("remove: %s %s", out, stderr)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
