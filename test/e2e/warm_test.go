//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
)

const warmFleet = daemonFleet + `- {name: win, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0aaa, kubelet: v1.37.2-eks-1a2b3c4}
- {name: more, kind: managed, os: linux, count: 1, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}
`

func TestWarmDeploysStatusAndRemoves(t *testing.T) {
	r, applied := startRig(t, warmFleet)
	ctx := context.Background()
	images := []string{applied.Ref("apps/a1:1"), applied.Ref("apps/b1:1")}
	deploy := append([]string{"warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e"}, images...)

	// A bad reference: one error line, nothing applied.
	_, stderr, code := runPlugin(t, r.Kubeconfig, append(deploy, "r.example/Bad:1")...)
	if code != 1 || !strings.Contains(stderr, "not a valid reference") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("bad image: exit %d, %q", code, stderr)
	}
	if _, err := r.Client.CoreV1().Namespaces().Get(ctx, "winimage-system", metav1.GetOptions{}); err == nil {
		t.Fatal("the namespace was created despite the bad image")
	}

	out, stderr, code := runPlugin(t, r.Kubeconfig, deploy...)
	if code != 0 || !strings.Contains(out, "daemonset/winimage-daemon serverside-applied") {
		t.Fatalf("warm: exit %d\n%s\n%s", code, out, stderr)
	}
	linuxNodes := append(append([]string{}, applied.Nodes["workers"]...), applied.Nodes["more"]...)
	var pods map[string]string
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := r.Client.CoreV1().Pods("winimage-system").List(ctx, metav1.ListOptions{LabelSelector: warm.ComponentLabel + "=daemon"})
		if err != nil {
			return false, err
		}
		pods = map[string]string{}
		for _, p := range list.Items {
			pods[p.Spec.NodeName] = p.Name
		}
		return len(pods) == len(linuxNodes), nil
	}); err != nil {
		t.Fatalf("daemon pods: %v (%v)", pods, err)
	}
	if _, ok := pods[applied.Nodes["win"][0]]; ok {
		t.Fatal("a Linux daemon pod landed on the Windows node")
	}

	// Each node's daemon runs as its pod does, with the token kubelet binds
	// to the pod, under the RBAC and admission policies warm applied,
	// against its own containerd.
	for i, node := range linuxNodes {
		pod, err := r.Client.CoreV1().Pods("winimage-system").Get(ctx, pods[node], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		podKubeconfig, err := r.PodKubeconfig(ctx, pod)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.StartContainerd(ctx, "warm-"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		d := startDaemon(t, r, daemonOpts{pod: pods[node], node: node, containerd: c, images: images, kubeconfig: podKubeconfig})
		if p := d.waitDone(2 * time.Minute); !p.AllReady() {
			t.Fatalf("node %s: %+v", node, p)
		}
		for _, ref := range images {
			if img := criImage(t, c, ref); img == nil || !img.Pinned {
				t.Errorf("node %s, %s through CRI: %+v", node, ref, img)
			}
		}
	}
	var status warm.StatusReport
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, _, code := runPlugin(t, r.Kubeconfig, "warm", "status", "--os", "linux", "-o", "json")
		if code != 0 {
			return false, nil
		}
		status = warm.StatusReport{}
		_ = json.Unmarshal([]byte(out), &status)
		return status.Summary.Ready == len(linuxNodes), nil
	}); err != nil {
		t.Fatalf("warm status: %+v", status)
	}
	for _, n := range status.Nodes {
		if n.State != warm.NodeReady || n.Ready != 2 || n.Total != 2 || n.BytesTotal == 0 {
			t.Errorf("status of %s: %+v", n.Node, n)
		}
	}
	table, _, _ := runPlugin(t, r.Kubeconfig, "warm", "status", "--os", "linux")
	if !strings.Contains(table, "3 nodes: 3 ready, 0 warming, 0 failed, 0 without a daemon pod") {
		t.Errorf("status table:\n%s", table)
	}

	// Idempotent: the same warm again changes nothing.
	before, _ := r.Client.AppsV1().DaemonSets("winimage-system").Get(ctx, "winimage-daemon", metav1.GetOptions{})
	if _, stderr, code := runPlugin(t, r.Kubeconfig, deploy...); code != 0 {
		t.Fatal(stderr)
	}
	after, _ := r.Client.AppsV1().DaemonSets("winimage-system").Get(ctx, "winimage-daemon", metav1.GetOptions{})
	if before.ResourceVersion != after.ResourceVersion {
		t.Errorf("re-applying the same warm changed the DaemonSet (%s → %s)", before.ResourceVersion, after.ResourceVersion)
	}

	// Removal leaves nothing.
	out, stderr, code = runPlugin(t, r.Kubeconfig, "warm", "remove")
	if code != 0 || !strings.Contains(out, "nothing left") {
		t.Fatalf("remove: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, check := range []func() error{
		func() error {
			_, err := r.Client.AppsV1().DaemonSets("winimage-system").Get(ctx, "winimage-daemon", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := r.Client.RbacV1().ClusterRoles().Get(ctx, "winimage-daemon", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := r.Client.RbacV1().ClusterRoleBindings().Get(ctx, "winimage-daemon", metav1.GetOptions{})
			return err
		},
	} {
		if check() == nil {
			t.Error("an object survived warm remove")
		}
	}
}

func TestDaemonFailsClearlyWithoutRBAC(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	kubeconfig, err := r.ServiceAccountKubeconfig(context.Background(), "winimage-system", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{applied.Ref("apps/a1:1")}, kubeconfig: kubeconfig})
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon kept running without permission to read its node")
	}
	if d.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(d.logs.String(), "lacks get nodes/"+applied.Nodes["workers"][0]) {
		t.Errorf("exit %d, output %q; want the missing permission named", d.cmd.ProcessState.ExitCode(), d.logs.String())
	}
}

// TestWarmRendersWhatKubectlKustomizeRenders proves warm's objects are the
// manifests' own: the same kustomization, through kubectl's kustomize.
func TestWarmRendersWhatKubectlKustomizeRenders(t *testing.T) {
	r, _ := startRig(t, "")
	for _, cfg := range []warm.Config{
		{Namespace: "winimage-system", OS: "windows", DaemonImage: "r.example/d:1", Images: []string{"mcr.microsoft.com/windows/servercore:ltsc2022"}},
		{Namespace: "warmers", OS: "linux", DaemonImage: "r.example/d@sha256:" + strings.Repeat("b", 64), Images: []string{"r.example/a:1", "r.example/b:2"},
			PullSecrets: []string{"regcred", "team.creds"}, MaxConcurrentNodes: 3, StartupTaint: "winimage.io/warming", StartupTaintTimeout: time.Hour,
			Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "win", Effect: corev1.TaintEffectNoSchedule}},
			NodeSelector: map[string]string{"pool": "x"}},
	} {
		dir := t.TempDir()
		cp := exec.Command("cp", "-r", filepath.Join(gobuild.ModuleRoot(t), "manifests"), filepath.Join(dir, "manifests"))
		if out, err := cp.CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		files, err := warm.Kustomization(cfg)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, "warm"), 0o755)
		for name, data := range files {
			os.WriteFile(filepath.Join(dir, "warm", name), data, 0o644)
		}
		out, err := exec.Command(r.Binaries.Kubectl, "kustomize", filepath.Join(dir, "warm")).Output()
		if err != nil {
			t.Fatal(err)
		}
		fromKubectl := canonical(t, strings.Split(string(out), "\n---\n"))
		objs, err := warm.Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var docs []string
		for _, o := range objs {
			b, _ := yaml.Marshal(o.Object)
			docs = append(docs, string(b))
		}
		if fromWarm := canonical(t, docs); strings.Join(fromWarm, "\n") != strings.Join(fromKubectl, "\n") {
			t.Errorf("%s/%s: warm and kubectl kustomize differ:\nwarm:\n%s\nkubectl:\n%s", cfg.OS, cfg.Namespace, strings.Join(fromWarm, "\n"), strings.Join(fromKubectl, "\n"))
		}
	}
}

// canonical decodes YAML documents and re-encodes them as sorted JSON.
func canonical(t *testing.T, docs []string) []string {
	var out []string
	for _, d := range docs {
		if strings.TrimSpace(d) == "" {
			continue
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(u.Object)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}
