//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/winimage-io/kubectl-winimage/test/eventually"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

const apfFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  images:
  - {ref: apps/web:1, layers: [64Ki], windows: [10.0.20348.2582]}
nodeGroups:
- {name: ng-a, kind: managed, count: 2, windowsVersion: 10.0.20348.2582, ami: ami-0aaa, kubelet: v1.37.1-eks-1a2b3c4}
workloads:
- {name: web, namespace: web, replicas: 2, images: [apps/web:1]}
`

// apfPods is 5 pages of 500. Creating pods through the API server runs at
// about 200 a second here (50,000 took 4m8s), so the 40,000 and
// 200,000-pod audits are in make bench (BenchmarkAuditLargeFleet, with the
// peak RSS goals).
const apfPods = 2_500

// The API server's Priority and Fairness, not a client limiter, paces the
// plugin. Here the audit's identity and a crowd of other clients share a
// priority level so small (3 seats) and without a queue that it rejects
// with 429 and Retry-After whatever does not fit at once. The audit must
// page through every pod regardless (client-go waits each Retry-After and
// tries again), with the same result as an unthrottled one.
func TestAuditUnderPriorityAndFairness(t *testing.T) {
	r, applied := startRig(t, apfFleet)
	ctx := context.Background()
	createBoundPods(ctx, t, r, applied.Nodes["ng-a"], applied.Ref("apps/web:1"), apfPods)
	role := loadClusterRole(t, "audit/clusterrole.yaml").Rules
	kubeconfig := grant(ctx, t, r, "apf-users", "auditor", role, nil)
	crowdConfig := grant(ctx, t, r, "apf-users", "crowd", role, nil)
	const level = "winimage-audit-tight"
	throttle(ctx, t, r, level, "apf-users", "auditor")
	throttle(ctx, t, r, level, "apf-users", "crowd")

	admin := auditJSON(t, r.Kubeconfig, "--no-registry")
	stop := crowd(t, crowdConfig, 12)
	defer stop()
	// The crowd makes a 429 likely, not certain, for any one audit: audit
	// until one met a 429 (each audit must match the unthrottled one).
	for run := 1; ; run++ {
		before := rejected(ctx, t, r, level+"-auditor")
		throttled := auditJSON(t, kubeconfig, "--no-registry")
		after := rejected(ctx, t, r, level+"-auditor")
		if throttled.Summary != admin.Summary || len(throttled.Images) != len(admin.Images) {
			t.Fatalf("throttled audit %+v, %d images; unthrottled %+v, %d images", throttled.Summary, len(throttled.Images), admin.Summary, len(admin.Images))
		}
		pods := 0
		for _, img := range throttled.Images {
			pods += img.Pods
		}
		if pods < apfPods {
			t.Fatalf("the throttled audit counted %d pods, want every one of the %d", pods, apfPods)
		}
		if after > before {
			t.Logf("audit %d: %.0f of its requests met a 429 and were retried", run, after-before)
			break
		}
		if run == 30 {
			t.Fatalf("30 audits and none of their requests met a 429: the level is not tight enough to show anything")
		}
	}
}

// An API server that accepts the connection and then says nothing: with
// --request-timeout every request, client-go's retries included, has a
// deadline, and the audit ends in one line instead of hanging.
func TestAuditEndsWithinItsRequestTimeoutWhenTheAPIServerSaysNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: runs the plugin")
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://"+silent.Addr().String()+"\", insecure-skip-tls-verify: true}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: x}\n"), 0o600)
	start := time.Now()
	out, stderr, code := runPlugin(t, kubeconfig, "audit", "--no-registry", "--request-timeout", "2s")
	took := time.Since(start)
	if code == 0 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("exit %d, want a failure in one line:\n%s\n%s", code, out, stderr)
	}
	// Two seconds a request; a handful of requests at most before the
	// first failure ends it. A bound, not a speed target.
	if took > 30*time.Second {
		t.Errorf("audit with --request-timeout 2s took %s against a silent API server", took.Round(time.Second))
	}
	t.Logf("exit %d after %s: %s", code, took.Round(100*time.Millisecond), strings.TrimSpace(stderr))
}

// crowd runs n other well-behaved clients of the same identity (a user's
// other tools, a CI job), each listing pods a page at a time, until stop is
// called: they take the level's seats, so the audit's requests meet 429s.
func crowd(t *testing.T, kubeconfig string, n int) (stop func()) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// client-go's own retries: a 429 waits its Retry-After.
				_, _ = client.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 500})
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

// createBoundPods creates n pods bound to nodes in turn, as the scheduler
// would have (kwok then marks them running).
func createBoundPods(ctx context.Context, t *testing.T, r *rig.Rig, nodes []string, image string, n int) {
	t.Helper()
	start := time.Now()
	const namespaces, workers = 10, 32
	for i := 0; i < namespaces; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bound-%d", i)}}
		if _, err := r.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := 0; i < n; i++ {
		g.Go(func() error {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bound-%06d", i), Namespace: fmt.Sprintf("bound-%d", i%namespaces)},
				Spec: corev1.PodSpec{
					NodeName:                     nodes[i%len(nodes)],
					AutomountServiceAccountToken: new(bool),
					NodeSelector:                 map[string]string{"kubernetes.io/os": "windows"},
					Containers:                   []corev1.Container{{Name: "app", Image: image}},
				},
			}
			_, err := r.Client.CoreV1().Pods(pod.Namespace).Create(gctx, pod, metav1.CreateOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d pods in %s", n, time.Since(start).Round(time.Second))
}

// throttle puts the ServiceAccount ns/name, through a flow schema of its
// own, on level: one nominal concurrency share (3 seats of this API
// server's 600), no borrowing and no queue, so what does not fit is
// rejected at once with 429.
func throttle(ctx context.Context, t *testing.T, r *rig.Rig, level, ns, name string) {
	t.Helper()
	zero, shares := int32(0), int32(1)
	plc := &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: level},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementLimited, Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
			NominalConcurrencyShares: &shares, LendablePercent: &zero, BorrowingLimitPercent: &zero,
			LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeReject},
		}},
	}
	levels := r.Client.FlowcontrolV1().PriorityLevelConfigurations()
	if cur, err := levels.Get(ctx, level, metav1.GetOptions{}); err == nil {
		cur.Spec = plc.Spec
		if _, err := levels.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	} else if _, err := levels.Create(ctx, plc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	schemas := r.Client.FlowcontrolV1().FlowSchemas()
	if _, err := schemas.Get(ctx, level+"-"+name, metav1.GetOptions{}); err != nil {
		fs := &flowcontrolv1.FlowSchema{
			ObjectMeta: metav1.ObjectMeta{Name: level + "-" + name},
			Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: level},
				MatchingPrecedence:         100,
				DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
				Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
					Subjects:      []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindServiceAccount, ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Namespace: ns, Name: name}}},
					ResourceRules: []flowcontrolv1.ResourcePolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}, ClusterScope: true, Namespaces: []string{"*"}}},
				}},
			},
		}
		if _, err := schemas.Create(ctx, fs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The API server applies configuration changes asynchronously; wait
	// until its metrics show the level with the new limit.
	eventually.True(t, time.Minute, "the API server to apply priority level "+level, func() bool {
		limit, ok := metric(ctx, t, r, "apiserver_flowcontrol_nominal_limit_seats", "priority_level", level)
		return ok && limit > 0
	})
}

// rejected is how many requests of a flow schema were rejected so far.
func rejected(ctx context.Context, t *testing.T, r *rig.Rig, schema string) float64 {
	n, _ := metric(ctx, t, r, "apiserver_flowcontrol_rejected_requests_total", "flow_schema", schema)
	return n
}

// metric sums the API server's samples of name whose label is value.
func metric(ctx context.Context, t *testing.T, r *rig.Rig, name, label, value string) (float64, bool) {
	t.Helper()
	raw, err := r.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sample := regexp.MustCompile(`^` + name + `\{[^}]*` + label + `="` + regexp.QuoteMeta(value) + `"[^}]*\} (\S+)$`)
	sum, found := 0.0, false
	for _, line := range strings.Split(string(raw), "\n") {
		if m := sample.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			sum, found = sum+v, true
		}
	}
	return sum, found
}
