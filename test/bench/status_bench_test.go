//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// statusSizes are the fleets `warm status` is timed over, with their goals.
var statusSizes = []struct {
	nodes int
	goal  time.Duration
}{{1000, time.Second}, {10000, time.Second}}

// BenchmarkWarmStatus times `kubectl winimage warm status` over 1,000 and
// then 10,000 Windows nodes whose daemon pods carry progress annotations
// (goal ≤ 1 s at each size), beside `kubectl get nodes,pods` of the same
// objects.
func BenchmarkWarmStatus(b *testing.B) {
	ctx := context.Background()
	r, err := rig.Start(ctx, rig.Options{NoContainerd: true, Controllers: "serviceaccount,serviceaccount-token,root-ca-cert-publisher,namespace,garbagecollector"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Stop()
	cfg := rest.CopyConfig(r.RESTConfig)
	cfg.QPS, cfg.Burst = 5000, 10000
	client := kubernetes.NewForConfigOrDie(cfg)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "winimage-system"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	created := 0
	for _, size := range statusSizes {
		start := time.Now()
		createStatusFleet(ctx, b, client, created, size.nodes)
		b.Logf("created %d nodes and daemon pods in %s", size.nodes-created, time.Since(start).Round(time.Second))
		created = size.nodes
		timeStatus(b, r, size.nodes, size.goal)
	}
}

// createStatusFleet creates nodes from..to-1, each with a daemon pod whose
// progress annotation lists ten images.
func createStatusFleet(ctx context.Context, b *testing.B, client kubernetes.Interface, from, to int) {
	parallel(b, to-from, func(j int) error {
		i := from + j
		name := fmt.Sprintf("ip-10-2-%d-%d.us-east-2.compute.internal", i/250, i%250)
		n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/os": "windows"}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		n.Status.NodeInfo = corev1.NodeSystemInfo{OperatingSystem: "windows", KernelVersion: "10.0.20348.2582"}
		if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
		prog := contract.Progress{Node: name, Updated: time.Now(), Snapshot: contract.Snapshot{Total: 10, Ready: 9, Done: i%3 != 0}}
		for k := 0; k < 10; k++ {
			st := contract.ImageState{Ref: fmt.Sprintf("123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/app-%d:1.2.3", k), State: contract.Ready, BytesDone: 900 << 20, BytesTotal: 900 << 20, Digest: "sha256:" + strings.Repeat("ab", 32)}
			if k == 9 {
				st.State, st.BytesDone, st.Reason = contract.Pulling, 300<<20, ""
			}
			prog.Images = append(prog.Images, st)
		}
		ann, _ := json.Marshal(prog)
		_, err = client.CoreV1().Pods("winimage-system").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("winimage-daemon-%04d", i), Namespace: "winimage-system",
				Labels:      map[string]string{warm.ComponentLabel: "daemon", warm.PartOfLabel: warm.PartOf},
				Annotations: map[string]string{contract.AnnotationProgress: string(ann)}},
			Spec: corev1.PodSpec{NodeName: name, AutomountServiceAccountToken: new(bool), Containers: []corev1.Container{{Name: "daemon", Image: "r.example/winimage-daemon:1"}}},
		}, metav1.CreateOptions{})
		return err
	})
}

func timeStatus(b *testing.B, r *rig.Rig, nodes int, goal time.Duration) {
	plugin := gobuild.Binary(b, "./cmd/kubectl-winimage")
	env := append(os.Environ(), "KUBECONFIG="+r.Kubeconfig)
	timed := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(t0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var runs, bases []time.Duration
		for k := 0; k < 3; k++ {
			bases = append(bases, timed(r.Binaries.Kubectl, "get", "nodes", "-o", "name"))
			bases[k] += timed(r.Binaries.Kubectl, "get", "pods", "-n", "winimage-system", "-o", "json")
			runs = append(runs, timed(plugin, "warm", "status"))
		}
		run, base := median(runs), median(bases)
		b.ReportMetric(run.Seconds(), fmt.Sprintf("status-%dk-nodes-s", nodes/1000))
		b.ReportMetric(run.Seconds()/base.Seconds(), fmt.Sprintf("status/kubectl-%dk", nodes/1000))
		fmt.Printf("warm status bench: %d nodes with daemon pods and progress annotations\n", nodes)
		fmt.Printf("  kubectl winimage warm status: median %s of %v (goal <= %s)\n", run.Round(time.Millisecond), rounded(runs), goal)
		fmt.Printf("  kubectl get nodes + get pods -o json: median %s; ratio %.2f\n", base.Round(time.Millisecond), run.Seconds()/base.Seconds())
		args, path := profileArgs(b, fmt.Sprintf("warm-status-%dnodes", nodes))
		timed(plugin, append([]string{"warm", "status"}, args...)...)
		printProfile(b, plugin, path, 20)
		if run > goal {
			b.Errorf("warm status took %s over %d nodes, goal <= %s", run, nodes, goal)
		}
	}
}
