package warm

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestOwnNodePolicyComesWithTheStartupTaintOnly(t *testing.T) {
	cfg := base()
	objs, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if find(objs, "ValidatingAdmissionPolicy") != nil {
		t.Error("a policy for a node update the daemon is not granted")
	}
	cfg.Namespace, cfg.StartupTaint = "warmers", "winimage.io/warming"
	objs, err = Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	policy, binding := find(objs, "ValidatingAdmissionPolicy"), find(objs, "ValidatingAdmissionPolicyBinding")
	if policy == nil || binding == nil {
		t.Fatal("--startup-taint without the own-node policy and its binding")
	}
	for _, o := range []*unstructured.Unstructured{policy, binding} {
		if o.GetName() != OwnNodePolicyName || o.GetLabels()[PartOfLabel] != PartOf {
			t.Errorf("%s %s/%s labels %v", o.GetKind(), o.GetNamespace(), o.GetName(), o.GetLabels())
		}
	}
	conds, _, _ := unstructured.NestedSlice(policy.Object, "spec", "matchConditions")
	if len(conds) != 1 || !strings.Contains(conds[0].(map[string]any)["expression"].(string), "'system:serviceaccount:warmers:winimage-daemon'") {
		t.Errorf("the policy does not match the daemon's account in the chosen namespace: %v", conds)
	}
	if name, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName"); name != OwnNodePolicyName {
		t.Errorf("binding for %q", name)
	}
	if applyRank("ValidatingAdmissionPolicy") >= applyRank("DaemonSet") {
		t.Error("the policy must be in place before the daemons start")
	}
}
