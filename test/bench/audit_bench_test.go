//go:build linux

// Package bench holds the benchmarks behind `make bench`. Each prints its
// figures as ratios against a baseline measured in the same run on the same
// rig, so they mean the same on a slower or busier machine.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// fleetSize is one size of the audit bench, with its memory goal.
type fleetSize struct {
	nodes, pods, images int
	rssGoalMiB          float64
}

var auditSizes = []fleetSize{{2000, 40000, 800, 300}, {10000, 200000, 2000, 1024}}

var builds = []string{"10.0.20348.2582", "10.0.17763.6893"}

// nodeBuild puts three quarters of the nodes on Server 2022, the rest on 2019.
func nodeBuild(i int) string {
	if i%4 == 3 {
		return builds[1]
	}
	return builds[0]
}

func imageRef(host string, i int) string { return fmt.Sprintf("%s/bench/app-%03d:1", host, i) }

// BenchmarkAuditLargeFleet audits 2,000 Windows nodes running 40,000 pods of
// 800 images (each with the status kubelet writes at start, one in ten with
// its Pulled event, so the startup section has work), then 10,000 nodes, 200,000 pods and 2,000 images, each on a
// fresh rig, against the floor (a plain protobuf paged list of the same
// objects) and `kubectl get nodes,pods -A -o json` as context; it also
// reports the registry requests made against the unique lookups, and the
// audit's peak RSS.
func BenchmarkAuditLargeFleet(b *testing.B) {
	for _, sz := range auditSizes {
		b.Run(fmt.Sprintf("%dnodes", sz.nodes), func(b *testing.B) { benchAudit(b, sz) })
	}
}

func benchAudit(b *testing.B, sz fleetSize) {
	ctx := context.Background()
	r, err := rig.Start(ctx, rig.Options{NoContainerd: true,
		// No node lifecycle: these nodes have no kubelet heartbeat, and
		// evictions mid-run would change what is measured.
		Controllers: "serviceaccount,serviceaccount-token,root-ca-cert-publisher,namespace,garbagecollector"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Stop()

	start := time.Now()
	pushImages(ctx, b, r.Registry.Host(), sz.images)
	b.Logf("pushed %d images in %s", sz.images, time.Since(start).Round(time.Second))
	cfg := rest.CopyConfig(r.RESTConfig)
	cfg.QPS, cfg.Burst = 5000, 10000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	client := kubernetes.NewForConfigOrDie(cfg)
	start = time.Now()
	nodes := createNodes(ctx, b, client, r.Registry.Host(), sz)
	b.Logf("created %d nodes in %s", sz.nodes, time.Since(start).Round(time.Second))
	start = time.Now()
	expectedManifests := createPods(ctx, b, client, r.Registry.Host(), nodes, sz)
	b.Logf("created %d pods in %s", sz.pods, time.Since(start).Round(time.Second))

	plugin := gobuild.Binary(b, "./cmd/kubectl-winimage")
	env := append(os.Environ(), "KUBECONFIG="+r.Kubeconfig)
	kubectl := func() time.Duration {
		cmd := exec.Command("sh", "-c", r.Binaries.Kubectl+" get nodes,pods -A -o json > /dev/null")
		cmd.Env = env
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kubectl: %v\n%s", err, out)
		}
		return time.Since(t0)
	}
	// The floor: what reading the same objects costs a plain client-go
	// client with no client-side limiter: protobuf pages of 500, as the
	// audit reads them.
	floorCfg := rest.CopyConfig(cfg)
	floorCfg.QPS = -1
	floorClient := kubernetes.NewForConfigOrDie(floorCfg)
	floor := func() time.Duration {
		t0 := time.Now()
		for _, list := range []func(metav1.ListOptions) (string, error){
			func(o metav1.ListOptions) (string, error) {
				l, err := floorClient.CoreV1().Nodes().List(ctx, o)
				return continueOf(l, err)
			},
			func(o metav1.ListOptions) (string, error) {
				l, err := floorClient.CoreV1().Pods("").List(ctx, o)
				return continueOf(l, err)
			},
			func(o metav1.ListOptions) (string, error) {
				l, err := floorClient.CoreV1().Events("").List(ctx, o)
				return continueOf(l, err)
			},
		} {
			o := metav1.ListOptions{Limit: 500}
			for {
				next, err := list(o)
				if err != nil {
					b.Fatal(err)
				}
				if next == "" {
					break
				}
				o.Continue = next
			}
		}
		return time.Since(t0)
	}
	audit := func(extra ...string) (time.Duration, int64) {
		// GNU time forks the plugin from its own small process and reports
		// the plugin's peak RSS; the plugin's own ru_maxrss would carry this
		// (large) process's peak, as a vfork child does on Linux.
		rss := filepath.Join(b.TempDir(), "maxrss")
		cmd := exec.Command(gnuTime(b), append([]string{"-f", "%M", "-o", rss, plugin, "audit", "-o", "json"}, extra...)...)
		cmd.Env = env
		devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		defer devnull.Close()
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = devnull, &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("audit: %v\n%s", err, stderr.String())
		}
		wall := time.Since(t0)
		return wall, readMaxRSS(b, rss)
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Interleaved rounds; each figure is the best of its rounds.
		var bases, floors, walls, bares, withouts []time.Duration
		var rss int64
		var manifests, blobs int64
		for round := 0; round < 3; round++ {
			floors = append(floors, floor())
			bases = append(bases, kubectl())
			r.Registry.ResetCounts()
			wall, peak := audit()
			if round == 0 {
				manifests, blobs, _ = r.Registry.Counts()
			}
			bare, barePeak := audit("--no-registry")
			// The startup section's own cost: the same audit without it.
			without, _ := audit("--no-registry", "--sections", "nodes,findings,images,pulls")
			walls, bares, rss = append(walls, wall), append(bares, bare), max(rss, peak, barePeak)
			withouts = append(withouts, without)
		}
		base, fl, wall, bare, without := slices.Min(bases), slices.Min(floors), slices.Min(walls), slices.Min(bares), slices.Min(withouts)
		ratio := wall.Seconds() / base.Seconds()
		b.ReportMetric(wall.Seconds()/fl.Seconds(), "audit/floor")
		b.ReportMetric(bare.Seconds()/fl.Seconds(), "no-registry/floor")
		b.ReportMetric(ratio, "audit/kubectl")
		b.ReportMetric(bare.Seconds()/without.Seconds(), "startup-section-cost")
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(manifests), "manifest-GETs")
		fmt.Printf("audit bench: %d nodes, %d pods, %d images\n", sz.nodes, sz.pods, sz.images)
		fmt.Printf("  floor (client-go protobuf pages of nodes, pods, events, no client limiter): %s (runs: %s)\n", fl.Round(time.Millisecond), rounded(floors))
		fmt.Printf("  kubectl winimage audit -o json:               %s (runs: %s)\n", wall.Round(time.Millisecond), rounded(walls))
		fmt.Printf("  kubectl winimage audit -o json --no-registry: %s (runs: %s)\n", bare.Round(time.Millisecond), rounded(bares))
		fmt.Printf("  --no-registry without the startup section:    %s (runs: %s); with it / without: %.2f\n", without.Round(time.Millisecond), rounded(withouts), bare.Seconds()/without.Seconds())
		fmt.Printf("  kubectl get nodes,pods -A -o json (context):  %s (runs: %s)\n", base.Round(time.Millisecond), rounded(bases))
		fmt.Printf("  ratio audit/floor: %.2f (goal <= 1.3); --no-registry/floor: %.2f (goal <= 1.1); audit/kubectl: %.2f\n",
			wall.Seconds()/fl.Seconds(), bare.Seconds()/fl.Seconds(), ratio)
		fmt.Printf("  registry requests: %d manifest GETs for %d unique lookups, %d blob GETs (want 0)\n", manifests, expectedManifests, blobs)
		fmt.Printf("  audit peak RSS: %.0f MiB (goal <= %.0f)\n", float64(rss)/(1<<20), sz.rssGoalMiB)
		args, path := profileArgs(b, fmt.Sprintf("audit-%dnodes", sz.nodes))
		audit(args...)
		printProfile(b, plugin, path, 25)
		if manifests != int64(expectedManifests) || blobs != 0 {
			b.Errorf("registry requests: %d manifests (want %d), %d blobs (want 0)", manifests, expectedManifests, blobs)
		}
	}
}

func pushImages(ctx context.Context, b *testing.B, host string, images int) {
	q := resource.MustParse
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		spec := imagefixtures.Spec{Bases: map[string]imagefixtures.Base{"sc": {Layers: []resource.Quantity{q("8Ki")}}}}
		for i := w; i < images; i += 8 {
			spec.Images = append(spec.Images, imagefixtures.Image{
				Ref: fmt.Sprintf("bench/app-%03d:1", i), Bases: []string{"sc"},
				Layers: []resource.Quantity{q("1Ki")}, Windows: builds,
			})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := imagefixtures.Push(ctx, host, spec); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func parallel(b *testing.B, n int, fn func(i int) error) { parallelN(b, 32, n, fn) }

// parallelN runs fn for 0..n-1 on workers goroutines; the first error
// fails the benchmark.
func parallelN(b *testing.B, workers, n int, fn func(i int) error) {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	work := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

func createNodes(ctx context.Context, b *testing.B, client kubernetes.Interface, host string, sz fleetSize) []string {
	names := make([]string, sz.nodes)
	parallel(b, sz.nodes, func(i int) error {
		build := nodeBuild(i)
		v, _ := osbuild.Parse(build)
		name := fmt.Sprintf("ip-10-1-%d-%d.us-east-2.compute.internal", i/250, i%250)
		names[i] = name
		group, ami := fmt.Sprintf("ng-%02d", i%10), "ami-0a1b2c3d4e5f60001"
		labels := map[string]string{
			"kubernetes.io/os": "windows", "kubernetes.io/arch": "amd64",
			"node.kubernetes.io/windows-build": v.BuildString(),
			"eks.amazonaws.com/nodegroup":      group, "eks.amazonaws.com/nodegroup-image": ami,
			"node.kubernetes.io/instance-type": "m5.2xlarge", "topology.kubernetes.io/zone": "us-east-2a",
		}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///us-east-2a/i-%017x", i)}}
		created, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		// kubelet reports up to 50 images; 20 of the node's own here.
		var images []corev1.ContainerImage
		for k := 0; k < 20; k++ {
			images = append(images, corev1.ContainerImage{Names: []string{imageRef(host, (i+k*sz.nodes)%sz.images)}, SizeBytes: 9 << 10})
		}
		created.Status = corev1.NodeStatus{
			NodeInfo: corev1.NodeSystemInfo{OperatingSystem: "windows", Architecture: "amd64", KernelVersion: build,
				OSImage: "Windows Server Datacenter", KubeletVersion: "v1.36.1-eks-1a2b3c4", ContainerRuntimeVersion: "containerd://1.7.27"},
			Images:     images,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
		}
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	})
	return names
}

// createPods binds pod i to node i%N running image (i/50)%M, so each image's
// 50 pods sit on 50 neighbouring nodes of both builds, and returns the unique registry lookups an audit
// needs: one per tag plus one per (image, entry picked for a node build).
func createPods(ctx context.Context, b *testing.B, client kubernetes.Interface, host string, nodes []string, sz fleetSize) int {
	for ns := 0; ns < 10; ns++ {
		_, _ = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", ns)}}, metav1.CreateOptions{})
	}
	perImageBuilds := make([]map[string]bool, sz.images)
	for i := range perImageBuilds {
		perImageBuilds[i] = map[string]bool{}
	}
	for i := 0; i < sz.pods; i++ {
		perImageBuilds[podImage(i, sz.images)][nodeBuild(i%sz.nodes)] = true
	}
	parallel(b, sz.pods, func(i int) error {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%06d", i), Namespace: fmt.Sprintf("bench-%d", i%10)},
			Spec: corev1.PodSpec{
				NodeName:                     nodes[i%sz.nodes],
				AutomountServiceAccountToken: new(bool),
				Containers:                   []corev1.Container{{Name: "app", Image: imageRef(host, podImage(i, sz.images))}},
				NodeSelector:                 map[string]string{"kubernetes.io/os": "windows"},
			},
		}
		created, err := client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		return startPod(ctx, client, created, i)
	})
	lookups := sz.images
	for _, set := range perImageBuilds {
		lookups += len(set)
	}
	return lookups
}

func podImage(i, images int) int { return (i / 50) % images }

// startPod writes the status kubelet writes when the pod started (for the
// audit's startup section), and for one pod in ten, the recent ones, the
// Pulled event kubelet wrote (older events have expired): a pull for three
// in four, an image already present for the rest.
func startPod(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, i int) error {
	scheduled := time.Now().Add(-time.Duration(i%5000) * time.Minute).Truncate(time.Second)
	pulling := time.Duration(60+i%420) * time.Second
	started := metav1.NewTime(scheduled.Add(pulling + 30*time.Second))
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(scheduled)},
	}, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: pod.Spec.Containers[0].Image, Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}}
	if _, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if i%10 != 0 {
		return nil
	}
	msg := fmt.Sprintf("Successfully pulled image %q in %v (%v including waiting). Image size: 1048576 bytes.", pod.Spec.Containers[0].Image, pulling, pulling)
	if i%40 == 0 {
		msg = fmt.Sprintf("Container image %q already present on machine", pod.Spec.Containers[0].Image)
	}
	at := metav1.NewTime(scheduled)
	_, err := client.CoreV1().Events(pod.Namespace).Create(ctx, &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name + ".pulled", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, FieldPath: "spec.containers{app}"},
		Reason: "Pulled", Type: corev1.EventTypeNormal, Message: msg,
		Source: corev1.EventSource{Component: "kubelet", Host: pod.Spec.NodeName}, FirstTimestamp: at, LastTimestamp: at, Count: 1,
	}, metav1.CreateOptions{})
	return err
}

// continueOf is a list page's continue token.
func continueOf(l interface{ GetContinue() string }, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return l.GetContinue(), nil
}

// gnuTime is GNU time's path: make bench needs it to measure peak RSS.
func gnuTime(b *testing.B) string {
	path, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		b.Fatal("make bench measures the plugin's peak RSS with GNU time (/usr/bin/time): install it (Debian: apt-get install time)")
	}
	return path
}

// readMaxRSS reads GNU time's %M (KiB) from file, in bytes.
func readMaxRSS(b *testing.B, file string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var kb int64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(data)), "%d", &kb); err != nil {
		b.Fatalf("GNU time's %%M in %s: %q", file, data)
	}
	return kb << 10
}
