package warm

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
)

func named(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// The pod and event policies always come; the node policy with the
// startup taint, naming its key. Every policy is applied, and bound,
// before the RBAC whose writes it narrows.
func TestThePoliciesComeBeforeTheWritesTheyNarrow(t *testing.T) {
	for _, taint := range []string{"", "example.com/warming"} {
		cfg := base()
		cfg.Namespace, cfg.StartupTaint = "warmers", taint
		objs, err := Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{OwnPodPolicyName, NodeEventsPolicyName}
		if taint != "" {
			want = append(want, OwnNodePolicyName)
		} else if named(objs, "ValidatingAdmissionPolicy", OwnNodePolicyName) != nil {
			t.Error("a node policy without a node update to narrow")
		}
		firstGrant := len(objs)
		for i, o := range objs {
			switch o.GetKind() {
			case "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
				firstGrant = min(firstGrant, i)
			}
		}
		for _, name := range want {
			for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
				o := named(objs, kind, name)
				if o == nil {
					t.Fatalf("taint %q: no %s %s", taint, kind, name)
				}
				if o.GetLabels()[PartOfLabel] != PartOf {
					t.Errorf("%s %s without warm's label", kind, name)
				}
				for i := range objs {
					if objs[i] == o && i > firstGrant {
						t.Errorf("%s %s applied after %s %s", kind, name, objs[firstGrant].GetKind(), objs[firstGrant].GetName())
					}
				}
			}
			p := named(objs, "ValidatingAdmissionPolicy", name)
			conds, _, _ := unstructured.NestedSlice(p.Object, "spec", "matchConditions")
			if len(conds) != 1 || !strings.Contains(conds[0].(map[string]any)["expression"].(string), "'system:serviceaccount:warmers:winimage-daemon'") {
				t.Errorf("%s does not match the daemon's account in the chosen namespace: %v", name, conds)
			}
			if fp, _, _ := unstructured.NestedString(p.Object, "spec", "failurePolicy"); fp != "Fail" {
				t.Errorf("%s fails open", name)
			}
		}
		if taint != "" {
			p := named(objs, "ValidatingAdmissionPolicy", OwnNodePolicyName)
			vs, _, _ := unstructured.NestedSlice(p.Object, "spec", "validations")
			if !strings.Contains(vs[2].(map[string]any)["expression"].(string), "o.key == '"+taint+"'") {
				t.Errorf("the node policy lets go of another taint than %s: %v", taint, vs[2])
			}
		}
	}
}

func daemonSetOf(t *testing.T, cfg Config) *appsv1.DaemonSet {
	t.Helper()
	objs, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(objs, "DaemonSet").Object, &ds); err != nil {
		t.Fatal(err)
	}
	return &ds
}

// The daemon must land on every node it waits on: it tolerates the
// startup taint with any effect, and the node group's own taints given
// with --toleration, besides the base's.
func TestTheDaemonToleratesItsStartupTaintAndTheGivenOnes(t *testing.T) {
	cfg := base()
	cfg.StartupTaint = "example.com/warming"
	cfg.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "win", Effect: corev1.TaintEffectNoExecute}}
	ds := daemonSetOf(t, cfg)
	node := []corev1.Taint{
		{Key: "example.com/warming", Effect: corev1.TaintEffectNoExecute},
		{Key: "dedicated", Value: "win", Effect: corev1.TaintEffectNoExecute},
		{Key: "os", Value: "windows", Effect: corev1.TaintEffectNoSchedule},
	}
	for _, taint := range node {
		ok := false
		for _, tol := range ds.Spec.Template.Spec.Tolerations {
			ok = ok || tol.ToleratesTaint(klog.Background(), &taint, false)
		}
		if !ok {
			t.Errorf("the daemon does not tolerate %v: %+v", taint, ds.Spec.Template.Spec.Tolerations)
		}
	}
	cmd := strings.Join(ds.Spec.Template.Spec.Containers[0].Command, " ")
	if !strings.Contains(cmd, "--startup-taint example.com/warming --startup-taint-timeout 30m0s") {
		t.Errorf("command: %s", cmd)
	}
}

// Every valid Secret name mounts: volume names go by position.
func TestEveryValidPullSecretNameMounts(t *testing.T) {
	cfg := base()
	cfg.PullSecrets = []string{"team.registry-creds", strings.Repeat("s", 253)}
	ds := daemonSetOf(t, cfg)
	for i, v := range ds.Spec.Template.Spec.Volumes {
		if len(v.Name) > 63 || strings.Contains(v.Name, ".") {
			t.Errorf("volume %d: %q is not a DNS label", i, v.Name)
		}
	}
}

// Bad settings are refused before anything is rendered.
func TestSettingsAreRefusedBeforeAnythingIsApplied(t *testing.T) {
	for name, change := range map[string]func(*Config){
		"namespace not a label":   func(c *Config) { c.Namespace = "Team_A" },
		"secret not a subdomain":  func(c *Config) { c.PullSecrets = []string{"a/b"} },
		"too many slots":          func(c *Config) { c.MaxConcurrentNodes = MaxConcurrentNodesLimit + 1 },
		"taint key":               func(c *Config) { c.StartupTaint = "not a key" },
		"a taint Kubernetes owns": func(c *Config) { c.StartupTaint = "node.kubernetes.io/not-ready" },
		"taint timeout under 1m":  func(c *Config) { c.StartupTaint, c.StartupTaintTimeout = "example.com/w", time.Second },
		"timeout without taint":   func(c *Config) { c.StartupTaintTimeout = time.Hour },
		"toleration exists+value": func(c *Config) {
			c.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		},
		"toleration unknown effect": func(c *Config) {
			c.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: "Never"}}
		},
	} {
		cfg := base()
		change(&cfg)
		if _, err := Render(cfg); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}
