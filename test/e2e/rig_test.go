//go:build linux

package e2e

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

const twoWindowsOneLinux = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
nodeGroups:
- {name: ng-2022, kind: managed, count: 1, windowsVersion: 10.0.20348.2340, ami: ami-0aaa, kubelet: v1.36.1-eks-1a2b3c4}
- {name: pool-2019, kind: karpenter, count: 1, windowsVersion: 10.0.17763.5576, kubelet: v1.36.1-eks-1a2b3c4}
- {name: system, kind: managed, os: linux, count: 1, kubelet: v1.37.2-eks-1a2b3c4}
`

func TestDaemonSetGetsOneRunningPodPerWindowsNode(t *testing.T) {
	r, applied := startRig(t, twoWindowsOneLinux)
	ctx := context.Background()
	labels := map[string]string{"app": "probe"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"kubernetes.io/os": "windows"},
					Tolerations:  []corev1.Toleration{{Key: "os", Operator: corev1.TolerationOpEqual, Value: "windows", Effect: corev1.TaintEffectNoSchedule}},
					Containers:   []corev1.Container{{Name: "probe", Image: "mcr.microsoft.com/oss/kubernetes/pause:3.10"}},
				},
			},
		},
	}
	if _, err := r.Client.AppsV1().DaemonSets("default").Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := r.Client.AppsV1().DaemonSets("default").Get(ctx, "probe", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.DesiredNumberScheduled == 2 && got.Status.NumberReady == 2, nil
	})
	if err != nil {
		t.Fatalf("DaemonSet never had 2 ready pods: %v", err)
	}
	pods, err := r.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=probe"})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s is %s, want Running", p.Name, p.Status.Phase)
		}
		perNode[p.Spec.NodeName]++
	}
	windows := append(append([]string{}, applied.Nodes["ng-2022"]...), applied.Nodes["pool-2019"]...)
	for _, n := range windows {
		if perNode[n] != 1 {
			t.Errorf("Windows node %s has %d probe pods, want 1", n, perNode[n])
		}
	}
	for _, n := range applied.Nodes["system"] {
		if perNode[n] != 0 {
			t.Errorf("Linux node %s has %d probe pods, want 0", n, perNode[n])
		}
	}
	if len(pods.Items) != 2 {
		t.Errorf("%d probe pods, want 2", len(pods.Items))
	}
}

const windowsShapedImages = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    servercore: {layers: [3Mi, 1Mi]}
  images:
  - {ref: apps/web:1, bases: [servercore], layers: [512Ki, 128Ki], windows: [10.0.17763.5576, 10.0.20348.2340, 10.0.26100.1742], linux: true}
  - {ref: apps/api:1, bases: [servercore], layers: [256Ki], windows: [10.0.17763.5576, 10.0.20348.2340, 10.0.26100.1742], linux: true}
  - {ref: apps/plain:1, bases: [servercore], layers: [64Ki], linux: true}
nodeGroups: []
`

func TestContainerdPullsLinuxEntryFetchesWindowsManifestAndCRISeesPins(t *testing.T) {
	r, applied := startRig(t, windowsShapedImages)
	ctx := context.Background()
	client, err := containerd.New(r.Containerd.Address, containerd.WithDefaultNamespace("k8s.io"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchAllHosts))})

	// linux/amd64 entry: pulled, unpacked and pinned as kubelet's GC sees it.
	web := applied.Ref("apps/web:1")
	img, err := client.Pull(ctx, web,
		containerd.WithResolver(resolver),
		containerd.WithPlatformMatcher(platforms.Only(ocispec.Platform{OS: "linux", Architecture: "amd64"})),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(r.Containerd.Snapshotter),
		containerd.WithPullLabel("io.cri-containerd.pinned", "pinned"))
	if err != nil {
		t.Fatalf("pull linux entry: %v", err)
	}
	if ok, err := img.IsUnpacked(ctx, r.Containerd.Snapshotter); err != nil || !ok {
		t.Fatalf("linux entry not unpacked into %s: %v", r.Containerd.Snapshotter, err)
	}
	// CRI keeps a repo@digest record beside repo:tag (kubelet looks images up
	// by either); a client pull makes only the tag record, so add the other.
	byDigest := strings.TrimSuffix(web, ":1") + "@" + img.Target().Digest.String()
	if _, err := client.ImageService().Create(ctx, images.Image{Name: byDigest, Target: img.Target(), Labels: img.Labels()}); err != nil {
		t.Fatal(err)
	}

	// windows/amd64 for build 20348: fetched, not unpacked.
	api := applied.Ref("apps/api:1")
	win20348 := platforms.Only(ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.2340"})
	fetched, err := client.Fetch(ctx, api, containerd.WithResolver(resolver), containerd.WithPlatformMatcher(win20348))
	if err != nil {
		t.Fatalf("fetch windows 20348 entry: %v", err)
	}
	manifest, err := images.Manifest(ctx, client.ContentStore(), fetched.Target, win20348)
	if err != nil {
		t.Fatalf("windows manifest not in the content store: %v", err)
	}
	_, want, _ := applied.Catalog.Entry("apps/api:1", "windows", "20348")
	var size int64
	for _, l := range manifest.Layers {
		size += l.Size
	}
	if size != want.Size || len(manifest.Layers) != want.Layers {
		t.Fatalf("fetched windows manifest has %d layers / %d bytes, want %d / %d", len(manifest.Layers), size, want.Layers, want.Size)
	}
	winImage := containerd.NewImageWithPlatform(client, fetched, win20348)
	if ok, _ := winImage.IsUnpacked(ctx, r.Containerd.Snapshotter); ok {
		t.Fatal("windows entry was unpacked; it must only be fetched")
	}

	// Kubelet's own path: CRI PullImage through the rig's hosts.toml.
	plain := applied.Ref("apps/plain:1")
	if _, err := r.Containerd.CRIPull(ctx, plain); err != nil {
		t.Fatalf("CRI PullImage: %v", err)
	}

	var criImages []string
	found := map[string]bool{}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := r.Containerd.CRIImages(ctx)
		if err != nil {
			return false, err
		}
		criImages = criImages[:0]
		for _, im := range list {
			for _, tag := range im.RepoTags {
				criImages = append(criImages, tag)
				switch tag {
				case web:
					found[web] = im.Pinned && len(im.RepoDigests) == 1 && im.RepoDigests[0] == byDigest
				case plain:
					// Pulled without the label: the CRI must report it unpinned.
					found[plain] = !im.Pinned
				}
			}
		}
		return found[web] && found[plain], nil
	})
	if err != nil {
		t.Fatalf("CRI ImageService: want %s pinned with a digest and %s unpinned; saw %v (%v)", web, plain, criImages, found)
	}
}

func TestTeardownLeavesNoProcessMountOrFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: needs the rig")
	}
	ctx := context.Background()
	r, err := startRigRaw(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	// Unpack an image so containerd has snapshot activity to clean up.
	f := parseFleet(t, windowsShapedImages)
	applied := applyFleet(ctx, t, r, f)
	if _, err := r.Containerd.CRIPull(ctx, applied.Ref("apps/web:1")); err != nil {
		t.Fatal(err)
	}
	pids := r.PIDs()
	if len(pids) < 6 {
		t.Fatalf("only %d rig processes: %v", len(pids), pids)
	}
	dir := r.Dir
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after teardown: %v", name, pid, err)
		}
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mountinfo), dir) {
		t.Errorf("mounts under %s remain:\n%s", dir, mountinfo)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("rig folder %s still exists: %v", dir, err)
	}
}
