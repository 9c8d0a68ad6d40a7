//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// TestLeastPrivilegeOfWarm runs warm, warm status, warm --wait, warm remove
// --unpin and warm remove under exactly manifests/warm/clusterrole.yaml,
// then under it less each single permission: the first command that needs
// the missing one fails naming it, and nothing of that command was done.
func TestLeastPrivilegeOfWarm(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	role := loadClusterRole(t, "warm")
	ref := applied.Ref("apps/b1:1")

	full := grant(ctx, t, r, "warm-users", "full", role.Rules, nil)
	for _, step := range warmSteps("warm-full", ref) {
		out, stderr, code := runPlugin(t, full, step.args...)
		if step.timesOut {
			if code == 0 || strings.Contains(stderr, "lack") || strings.Contains(stderr, "forbidden") {
				t.Fatalf("%v under the documented role: exit %d\n%s\n%s", step.args, code, out, stderr)
			}
			continue
		}
		if code != 0 {
			t.Fatalf("%v under the documented role: exit %d\n%s\n%s", step.args, code, out, stderr)
		}
	}

	cases := oneLess(role.Rules, nil)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := fmt.Sprintf("warm-less-%d", i)
			kubeconfig := grant(ctx, t, r, "warm-users", fmt.Sprintf("less-%d", i), c.cluster, nil)
			verb, resource, _ := strings.Cut(c.name, " ")
			for _, step := range warmSteps(ns, ref) {
				before := objectsOf(ctx, t, r, ns)
				_, stderr, code := runPlugin(t, kubeconfig, step.args...)
				if !strings.Contains(stderr, "permissions you lack") {
					if code != 0 && !step.timesOut {
						t.Fatalf("%v: exit %d, %q; want it to pass or name what it lacks", step.args, code, stderr)
					}
					continue
				}
				if code == 0 || !strings.Contains(stderr, verb) || !strings.Contains(stderr, resource) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
					t.Errorf("%v: exit %d, %q; want one line naming %s", step.args, code, stderr, c.name)
				}
				if after := objectsOf(ctx, t, r, ns); after != before {
					t.Errorf("%v failed but changed the cluster: %s → %s", step.args, before, after)
				}
				return
			}
			t.Errorf("every command passed without %s: the documented role grants more than warm uses", c.name)
		})
	}
}

type warmStep struct {
	args []string
	// timesOut: the step waits on daemons, which this test does not run.
	timesOut bool
}

func warmSteps(ns, ref string) []warmStep {
	// --startup-taint: remove then drops it from nodes, which takes node rights.
	install := []string{"warm", "-n", ns, "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", "--startup-taint", "winimage.io/warming", ref}
	return []warmStep{
		{args: install},
		{args: []string{"warm", "status", "-n", ns, "--os", "linux"}},
		{args: append(append([]string{}, install...), "--wait", "--timeout", "1s"), timesOut: true},
		{args: []string{"warm", "remove", "-n", ns, "--unpin", "--timeout", "1s"}, timesOut: true},
		{args: []string{"warm", "remove", "-n", ns}},
	}
}

// objectsOf sums up what warm creates, for namespace ns and the cluster.
func objectsOf(ctx context.Context, t *testing.T, r *rig.Rig, ns string) string {
	t.Helper()
	var parts []string
	if n, err := r.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		parts = append(parts, "namespace "+string(n.Status.Phase))
	}
	if ds, err := r.Client.AppsV1().DaemonSets(ns).Get(ctx, "winimage-daemon", metav1.GetOptions{}); err == nil {
		// Its generation: controllers keep writing its status.
		parts = append(parts, fmt.Sprintf("daemonset generation %d", ds.Generation))
	}
	if crb, err := r.Client.RbacV1().ClusterRoleBindings().Get(ctx, "winimage-daemon", metav1.GetOptions{}); err == nil {
		parts = append(parts, "clusterrolebinding "+crb.ResourceVersion)
	}
	return strings.Join(parts, ", ")
}

// TestLeastPrivilegeOfAudit runs the audit under manifests/audit/
// clusterrole.yaml less each permission: without nodes or pods it fails
// naming them; without events or secrets it finishes and says what it
// skipped.
func TestLeastPrivilegeOfAudit(t *testing.T) {
	// A pod naming a pull secret, and pull events, so every rule is used.
	r, _ := startRig(t, fmt.Sprintf(accessFleet, "127.0.0.1:1"))
	ctx := context.Background()
	role := loadClusterRole(t, "audit")
	for i, c := range oneLess(role.Rules, nil) {
		t.Run(c.name, func(t *testing.T) {
			kubeconfig := grant(ctx, t, r, "audit-users", fmt.Sprintf("less-%d", i), c.cluster, nil)
			out, stderr, code := runPlugin(t, kubeconfig, "audit", "-o", "json")
			verb, resource, _ := strings.Cut(c.name, " ")
			switch resource {
			case "nodes", "pods":
				if code != 1 || !strings.Contains(stderr, verb) || !strings.Contains(stderr, `"`+resource+`"`) {
					t.Errorf("exit %d, %q; want a failure naming %s", code, stderr, c.name)
				}
			default:
				if code != 0 || !strings.Contains(out, "forbidden") || !strings.Contains(out, strings.TrimSuffix(resource, "s")) {
					t.Errorf("exit %d, %q; want the audit to finish and skip what needs %s", code, out+stderr, c.name)
				}
			}
		})
	}
}

func loadClusterRole(t *testing.T, dir string) *rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(gobuild.ModuleRoot(t), "manifests", dir, "clusterrole.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		t.Fatal(err)
	}
	return &role
}
