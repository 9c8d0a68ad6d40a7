//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// TestLeastPrivilegeOfWarm runs warm, warm status, warm --wait, warm remove
// --unpin and warm remove under exactly manifests/warm/clusterrole-
// operator.yaml (for the namespace it is used with), then under it less
// each single permission: the first command that needs the missing one
// fails naming it, and nothing of that command was done.
func TestLeastPrivilegeOfWarm(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	ref := applied.Ref("apps/b1:1")
	role := loadClusterRole(t, "warm/clusterrole-operator.yaml")
	if grantsAny(role.Rules, "escalate", "bind") {
		t.Fatal("the operator role may escalate or bind: it could grant itself anything")
	}
	forNamespace := func(ns string) []rbacv1.PolicyRule {
		rules := make([]rbacv1.PolicyRule, len(role.Rules))
		for i, r := range role.Rules {
			r = *r.DeepCopy()
			for j, name := range r.ResourceNames {
				if name == "winimage-system" {
					r.ResourceNames[j] = ns
				}
			}
			rules[i] = r
		}
		return rules
	}

	full := grant(ctx, t, r, "warm-users", "full", forNamespace("warm-full"), nil)
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

	for i, c := range oneLess(role.Rules, nil) {
		t.Run(c.name, func(t *testing.T) {
			ns := fmt.Sprintf("warm-less-%d", i)
			kubeconfig := grant(ctx, t, r, "warm-users", fmt.Sprintf("less-%d", i), oneLess(forNamespace(ns), nil)[i].cluster, nil)
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
	// --max-concurrent-nodes: the daemon's Role then grants the pull-slot
	// Leases, which warm may grant only if it holds them.
	install := []string{"warm", "-n", ns, "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", "--startup-taint", "winimage.io/warming",
		"--max-concurrent-nodes", "2", ref}
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
// naming them; without events or warm's ConfigMap it finishes and says
// what it skipped. The default role reads no Secret: the audit names the
// pull secret it could not read, and only with clusterrole-pull-
// secrets.yaml bound as well does it read it.
func TestLeastPrivilegeOfAudit(t *testing.T) {
	// A pod naming a pull secret, and pull events, so every rule is used.
	r, _ := startRig(t, fmt.Sprintf(accessFleet, "127.0.0.1:1"))
	ctx := context.Background()
	role := loadClusterRole(t, "audit/clusterrole.yaml")
	secrets := loadClusterRole(t, "audit/clusterrole-pull-secrets.yaml")
	if slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "secrets") }) {
		t.Fatal("the default audit role reads Secrets")
	}
	const forbidden = ": forbidden to you; images that need it may show 401"
	for name, rules := range map[string][]rbacv1.PolicyRule{"default": role.Rules, "with-secrets": append(slices.Clone(role.Rules), secrets.Rules...)} {
		kubeconfig := grant(ctx, t, r, "audit-users", name, rules, nil)
		out, stderr, code := runPlugin(t, kubeconfig, "audit", "-o", "json")
		if code != 0 || strings.Contains(out, forbidden) != (name == "default") {
			t.Errorf("%s role: exit %d, secret forbidden noted: %v\n%s", name, code, strings.Contains(out, forbidden), out+stderr)
		}
	}
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

func loadClusterRole(t *testing.T, file string) *rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(gobuild.ModuleRoot(t), "manifests", file))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		t.Fatal(err)
	}
	return &role
}

func grantsAny(rules []rbacv1.PolicyRule, verbs ...string) bool {
	for _, r := range rules {
		for _, v := range r.Verbs {
			if v == "*" || slices.Contains(verbs, v) {
				return true
			}
		}
	}
	return false
}

// TestLeastPrivilegeOfWarmStatus runs warm status and status -w under
// manifests/warm/clusterrole-viewer.yaml, then under it less each
// permission: each is used, and the viewer can change nothing.
func TestLeastPrivilegeOfWarmStatus(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	role := loadClusterRole(t, "warm/clusterrole-viewer.yaml")
	for _, rule := range role.Rules {
		for _, v := range rule.Verbs {
			if !slices.Contains([]string{"get", "list", "watch"}, v) {
				t.Errorf("the viewer role may %s %v", v, rule.Resources)
			}
		}
	}
	if _, stderr, code := runPlugin(t, r.Kubeconfig, "warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e", applied.Ref("apps/b1:1")); code != 0 {
		t.Fatalf("warm: exit %d\n%s", code, stderr)
	}
	// status -w follows until interrupted: a run still going after 3 s
	// had every permission it asked for.
	status := func(kubeconfig string, watch bool) (string, int) {
		args := []string{"--kubeconfig", kubeconfig, "warm", "status", "--os", "linux"}
		if watch {
			args = append(args, "-w")
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var stderr strings.Builder
		cmd := exec.CommandContext(ctx, pluginBinary(t), args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		if watch && ctx.Err() != nil {
			return "", 0
		}
		if err != nil {
			return stderr.String(), cmd.ProcessState.ExitCode()
		}
		return stderr.String(), 0
	}
	full := grant(ctx, t, r, "warm-viewers", "full", role.Rules, nil)
	for _, watch := range []bool{false, true} {
		if stderr, code := status(full, watch); code != 0 {
			t.Fatalf("status (watch %v) under the viewer role: exit %d, %s", watch, code, stderr)
		}
	}
	if _, stderr, code := runPlugin(t, full, "warm", "remove"); code == 0 || !strings.Contains(stderr, "permissions you lack") {
		t.Errorf("warm remove under the viewer role: exit %d, %s", code, stderr)
	}
	for i, c := range oneLess(role.Rules, nil) {
		t.Run(c.name, func(t *testing.T) {
			kubeconfig := grant(ctx, t, r, "warm-viewers", fmt.Sprintf("less-%d", i), c.cluster, nil)
			verb, resource, _ := strings.Cut(c.name, " ")
			for _, watch := range []bool{false, true} {
				if stderr, code := status(kubeconfig, watch); code != 0 {
					if !strings.Contains(stderr, verb) || !strings.Contains(stderr, resource) {
						t.Errorf("status (watch %v): exit %d, %q; want it to name %s", watch, code, stderr, c.name)
					}
					return
				}
			}
			t.Errorf("status and status -w passed without %s: the viewer role grants more than they use", c.name)
		})
	}
}
