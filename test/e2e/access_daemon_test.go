//go:build linux

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/winimage-io/kubectl-winimage/plugin/warm"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// TestLeastPrivilegeOfTheDaemon runs the daemon under exactly the RBAC warm
// renders for --startup-taint and --max-concurrent-nodes, then under that
// RBAC less each single permission: every one is used, and the daemon
// names the one it lacks before touching the node (or, for events, warms
// and warns).
func TestLeastPrivilegeOfTheDaemon(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	node := applied.Nodes["workers"][0]
	ref := applied.Ref("apps/b1:1")
	const taint = "winimage.io/warming"
	objs, err := warm.Render(warm.Config{Namespace: "winimage-system", OS: "linux", DaemonImage: "r.example/winimage-daemon:e2e",
		Images: []string{ref}, StartupTaint: taint, MaxConcurrentNodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	var clusterRole rbacv1.ClusterRole
	var role rbacv1.Role
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ClusterRole":
			convert(t, obj.Object, &clusterRole)
		case "Role":
			convert(t, obj.Object, &role)
		}
	}
	flags := []string{"--startup-taint", taint, "--max-concurrent-nodes", "2"}

	setTaint(ctx, t, r, node, taint)
	full := grantDaemon(ctx, t, r, "full", clusterRole.Rules, role.Rules)
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}, kubeconfig: full, extra: flags})
	if p := d.waitDone(2 * time.Minute); !p.AllReady() || len(p.Warnings) != 0 {
		t.Fatalf("under the rendered RBAC: %+v", p)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := r.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		return err == nil && !hasTaint(n, taint), nil
	}); err != nil {
		t.Fatal("the startup taint stayed under the rendered RBAC")
	}
	_ = d.stop()

	cases := oneLess(clusterRole.Rules, role.Rules)
	if len(cases) < 7 {
		t.Fatalf("%d permissions in the rendered RBAC; want at least nodes get and update, events create, pods patch and the three on leases", len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kubeconfig := grantDaemon(ctx, t, r, fmt.Sprintf("less-%d", i), c.cluster, c.namespaced)
			d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref}, kubeconfig: kubeconfig, extra: flags})
			if c.name == "create events" {
				p := d.waitDone(2 * time.Minute)
				if !p.AllReady() || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "lacks create events in default") {
					t.Errorf("without event rights the daemon warms and warns: %+v", p)
				}
				return
			}
			select {
			case <-d.exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("the daemon kept running without %s", c.name)
			}
			logs := d.logs.String()
			verb, resource, _ := strings.Cut(c.name, " ")
			if d.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(logs, "lacks "+verb+" "+resource) || strings.Count(strings.TrimSpace(logs), "\n") != 0 {
				t.Errorf("exit %d, output %q; want one line naming %s", d.cmd.ProcessState.ExitCode(), logs, c.name)
			}
		})
	}
}

// lessCase is the rendered RBAC without one verb on one resource.
type lessCase struct {
	name                string
	cluster, namespaced []rbacv1.PolicyRule
}

func oneLess(cluster, namespaced []rbacv1.PolicyRule) []lessCase {
	var out []lessCase
	for side, rules := range [][]rbacv1.PolicyRule{cluster, namespaced} {
		for i, rule := range rules {
			for _, resource := range rule.Resources {
				for _, verb := range rule.Verbs {
					less := withoutVerb(rules, i, resource, verb)
					c := lessCase{name: verb + " " + resource, cluster: cluster, namespaced: namespaced}
					if side == 0 {
						c.cluster = less
					} else {
						c.namespaced = less
					}
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// withoutVerb copies rules, rule i split so that resource lacks verb.
func withoutVerb(rules []rbacv1.PolicyRule, i int, resource, verb string) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for j, rule := range rules {
		if j != i {
			out = append(out, rule)
			continue
		}
		for _, res := range rule.Resources {
			r := *rule.DeepCopy()
			r.Resources = []string{res}
			if res == resource {
				r.Verbs = nil
				for _, v := range rule.Verbs {
					if v != verb {
						r.Verbs = append(r.Verbs, v)
					}
				}
			}
			if len(r.Verbs) > 0 {
				out = append(out, r)
			}
		}
	}
	return out
}

// grantDaemon binds the rules to a new ServiceAccount of winimage-system.
func grantDaemon(ctx context.Context, t *testing.T, r *rig.Rig, sa string, cluster, namespaced []rbacv1.PolicyRule) string {
	t.Helper()
	return grant(ctx, t, r, "winimage-system", sa, cluster, namespaced)
}

// grant binds the rules to a new ServiceAccount ns/sa (cluster rules
// through a ClusterRole, the others through a Role in ns), waits until the
// authorizer has them, and returns its kubeconfig.
func grant(ctx context.Context, t *testing.T, r *rig.Rig, ns, sa string, cluster, namespaced []rbacv1.PolicyRule) string {
	t.Helper()
	kubeconfig, err := r.ServiceAccountKubeconfig(ctx, ns, sa)
	if err != nil {
		t.Fatal(err)
	}
	name := "winimage-access-" + ns + "-" + sa
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: sa}}
	rbac := r.Client.RbacV1()
	for _, err := range []error{
		create(rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: cluster}, metav1.CreateOptions{})),
		create(rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}, metav1.CreateOptions{})),
		create(rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: namespaced}, metav1.CreateOptions{})),
		create(rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}, metav1.CreateOptions{})),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The authorizer learns of bindings through an informer: wait until it
	// allows the last rule granted, so no case fails on a stale cache.
	last, lastNS := rbacv1.PolicyRule{}, ns
	if len(namespaced) > 0 {
		last = namespaced[len(namespaced)-1]
	} else {
		last, lastNS = cluster[len(cluster)-1], ""
	}
	user := "system:serviceaccount:" + ns + ":" + sa
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		review, err := r.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: lastNS, Verb: last.Verbs[0], Group: last.APIGroups[0], Resource: last.Resources[0], Name: first(last.ResourceNames)},
		}}, metav1.CreateOptions{})
		return err == nil && review.Status.Allowed, nil
	}); err != nil {
		t.Fatalf("the authorizer never allowed %s %v", user, last)
	}
	return kubeconfig
}

func create[T any](_ T, err error) error { return err }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func convert(t *testing.T, from map[string]any, to any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(from, to); err != nil {
		t.Fatal(err)
	}
}

func setTaint(ctx context.Context, t *testing.T, r *rig.Rig, node, taint string) {
	t.Helper()
	addTaint(ctx, t, r.Client, node, corev1.Taint{Key: taint, Effect: corev1.TaintEffectNoSchedule})
}
