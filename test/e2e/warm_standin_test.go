//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
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
	// As on Windows Server 2022+: pods are killed, never signalled, so
	// nothing below may rely on the daemon stopping gracefully.
	nodes, kubelet := standIn(t, r, applied.Nodes["workers"])
	// One node is a Server 2022 host (volumes bound at their paths in a
	// private view, and linked under the sandbox); the others are Server
	// 2019 hosts (volumes under the sandbox only). A fleet may mix both.
	server2022 := applied.Nodes["workers"][0]
	if err := kubelet.SetMountMode(server2022, rig.BindFilter); errors.Is(err, rig.ErrNoMountNamespace) {
		// A machine without private mount namespaces plays Server 2019 only.
		t.Logf("every node plays Server 2019: %v", err)
		server2022 = ""
	} else if err != nil {
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
	// --disk-threshold 1 (no guard): it would measure this host's real disk.
	warmArgs := []string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", "--wait", "--timeout", "3m", "--disk-threshold", "1"}
	// --wait follows every node until it settles: the five images Ready,
	// the missing one Failed with its reason (exit 3), on every node.
	phase(t, "a missing image fails alone, exit 3", func(t *testing.T) {
		out, stderr, code := runPlugin(t, r.Kubeconfig, append(append(warmArgs, images...), missing)...)
		if code != 3 {
			t.Fatalf("warm --wait with a missing image: exit %d, want 3\n%s\n%s", code, out, stderr)
		}
		for n := range nodes {
			if !strings.Contains(out, n+": Failed, 5/6 images") {
				t.Errorf("no settled line for %s in:\n%s", n, out)
			}
		}
		if !strings.Contains(stderr, "3 of 3 nodes have images that failed") || !strings.Contains(out, missing+" Failed: ") {
			t.Errorf("warm --wait output:\n%s\n%s", out, stderr)
		}
		st := statusOf(t, r.Kubeconfig, time.Minute, func(s *warm.StatusReport) bool { return s.Summary.Failed == 3 })
		for _, n := range st.Nodes {
			if n.State != warm.NodeFailed || n.Ready != 5 || n.Total != 6 {
				t.Errorf("%s: %s %d/%d", n.Node, n.State, n.Ready, n.Total)
			}
			if len(n.Failures) != 1 || n.Failures[0].Ref != missing || !strings.Contains(n.Failures[0].Reason, "404") {
				t.Errorf("%s failures: %+v", n.Node, n.Failures)
			}
			for _, ref := range images {
				if img := criImage(t, nodes[n.Node], ref); img == nil || !img.Pinned || len(img.RepoDigests) != 1 {
					t.Errorf("%s: %s through CRI: %+v", n.Node, ref, img)
				}
			}
		}
		// The daemon pods turn Ready once their pass settled, the failed
		// image included: a bad reference must not hold every rolling
		// update of the DaemonSet (the probe). The failure is warm
		// status's to say, as above.
		var ready, pods int
		if !eventually.Within(time.Minute, func() bool {
			ready, pods = readyDaemonPods(ctx, t, r)
			return ready == pods && ready > 0
		}) {
			t.Fatalf("%d of %d daemon pods Ready after their pass settled with a failed image", ready, pods)
		}

	})

	// Dropping the bad image: right after the apply the daemons still
	// report the old list, which --wait must not take for settled; every
	// node goes Ready without pulling again.
	phase(t, "each host's daemon saw its volumes where its Windows version puts them", func(t *testing.T) {
		pods, err := r.Client.CoreV1().Pods("winimage-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			points, err := kubelet.MountPoints(p.UID)
			if err != nil {
				t.Fatal(err)
			}
			// /var/run is a link to /run on this machine.
			list, token := points["/etc/winimage/list"], points["/var/run/secrets/kubernetes.io/serviceaccount"]+points["/run/secrets/kubernetes.io/serviceaccount"]
			if p.Spec.NodeName == server2022 {
				if !strings.HasPrefix(list, "ro") || token == "" {
					t.Errorf("Server 2022 pod %s: list mount %q, token mount %q", p.Name, list, token)
				}
			} else if list != "" || token != "" {
				t.Errorf("Server 2019 pod %s sees mounts at the real paths: %q %q", p.Name, list, token)
			}
		}
	})
	phase(t, "dropping it settles without pulling again", func(t *testing.T) {
		_, blobsBefore, _ := r.Registry.Counts()
		out, stderr, code := runPlugin(t, r.Kubeconfig, append(warmArgs, images...)...)
		if code != 0 || !strings.Contains(out, "all 3 nodes warm") {
			t.Fatalf("warm --wait: exit %d\n%s\n%s", code, out, stderr)
		}
		if _, got, _ := r.Registry.Counts(); got != blobsBefore {
			t.Errorf("dropping an image fetched %d blobs again", got-blobsBefore)
		}

	})

	// A node registered but with no kubelet yet: its daemon pod never
	// starts, so --wait cannot settle; Ctrl-C leaves the DaemonSet running
	// and says how to follow or remove it.
	newNode := "ip-10-0-99-1.us-east-2.compute.internal"
	phase(t, "Ctrl-C on a node that cannot settle keeps the DaemonSet", func(t *testing.T) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: newNode, Labels: map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}}
		if _, err := r.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		patch := []byte(`{"status":{"nodeInfo":{"operatingSystem":"linux","architecture":"amd64","kernelVersion":"6.1.141"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}],"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"}}}`)
		if _, err := r.Client.CoreV1().Nodes().Patch(ctx, newNode, "application/strategic-merge-patch+json", patch, metav1.PatchOptions{}, "status"); err != nil {
			t.Fatal(err)
		}
		bg := startPlugin(t, r.Kubeconfig, append(warmArgs, images...)...)
		bg.waitFor(t, time.Minute, newNode+": ")
		out, stderr, code := bg.interrupt(t)
		if code != 130 || !strings.Contains(stderr, "the DaemonSet stays and keeps warming") || !strings.Contains(stderr, "kubectl winimage warm status -w -n winimage-system") || !strings.Contains(stderr, "kubectl winimage warm remove -n winimage-system") {
			t.Errorf("interrupted --wait: exit %d\n%s\n%s", code, out, stderr)
		}
		if _, err := r.Client.AppsV1().DaemonSets("winimage-system").Get(ctx, warm.DaemonName, metav1.GetOptions{}); err != nil {
			t.Fatalf("the DaemonSet after Ctrl-C: %v", err)
		}

	})

	// Its kubelet comes up: the node is warmed without any user action.
	phase(t, "the late node is warmed once its kubelet runs", func(t *testing.T) {
		c, err := r.StartContainerd(ctx, "late")
		if err != nil {
			t.Fatal(err)
		}
		kubelet.AddNode(newNode, c)
		nodes[newNode] = c
		statusOf(t, r.Kubeconfig, 3*time.Minute, func(s *warm.StatusReport) bool { return s.Summary.Nodes == 4 && s.Summary.Ready == 4 })
		for _, ref := range images {
			if img := criImage(t, c, ref); img == nil || !img.Pinned {
				t.Errorf("late node: %s through CRI: %+v", ref, img)
			}
		}

	})

	// remove --unpin: every node drops the pins (the images stay, for
	// kubelet's GC to manage), then no object is left.
	phase(t, "remove --unpin leaves no pins and no objects", func(t *testing.T) {
		out, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "remove", "--unpin", "--timeout", "2m")
		if code != 0 || !strings.Contains(out, "unpinned on all 4 nodes") || !strings.Contains(out, "nothing left") {
			t.Fatalf("remove --unpin: exit %d\n%s\n%s", code, out, stderr)
		}
		for n, c := range nodes {
			if !strings.Contains(out, "node/"+n+" unpinned 15 image records") { // tag, digest and image-id records of five images, as CRI writes them
				t.Errorf("no unpin line for %s in:\n%s", n, out)
			}
			for _, ref := range images {
				if img := criImage(t, c, ref); img == nil || img.Pinned {
					t.Errorf("%s after remove --unpin: %s through CRI: %+v", n, ref, img)
				}
			}
			for _, label := range []string{noderuntime.LabelPinned, noderuntime.LabelPinnedBy} {
				if left, err := c.ImagesLabelled(ctx, label); err != nil || len(left) != 0 {
					t.Errorf("%s: images still labelled %s: %v %v", n, label, left, err)
				}
			}
		}
		for _, check := range []func() (int, error){
			func() (int, error) {
				l, err := r.Client.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{LabelSelector: warm.PartOfLabel + "=" + warm.PartOf})
				return len(l.Items), err
			},
			func() (int, error) {
				l, err := r.Client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: warm.PartOfLabel + "=" + warm.PartOf})
				return len(l.Items), err
			},
		} {
			if n, err := check(); err != nil || n != 0 {
				t.Errorf("objects left after remove --unpin: %d %v", n, err)
			}
		}
		if _, err := r.Client.CoreV1().Namespaces().Get(ctx, "winimage-system", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace after remove --unpin: %v", err)
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readyDaemonPods counts the daemon pods and those Ready.
func readyDaemonPods(ctx context.Context, t *testing.T, r *rig.Rig) (ready, all int) {
	t.Helper()
	pods, err := r.Client.CoreV1().Pods("winimage-system").List(ctx, metav1.ListOptions{LabelSelector: warm.ComponentLabel + "=daemon"})
	if err != nil {
		return 0, 0
	}
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, len(pods.Items)
}
