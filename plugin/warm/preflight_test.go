package warm

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/access"
)

// TestRuleNeedsAreEveryPermissionARoleGrants: one need per group, resource,
// verb and name, in the role's namespace, as RBAC's escalation check asks.
func TestRuleNeedsAreEveryPermissionARoleGrants(t *testing.T) {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"patch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "update"}, ResourceNames: []string{"s-0", "s-1"}},
	}
	got := ruleNeeds(rules, "ns", "roles/winimage-daemon")
	want := []string{"patch pods in ns", "get leases.coordination.k8s.io/s-0 in ns", "get leases.coordination.k8s.io/s-1 in ns",
		"update leases.coordination.k8s.io/s-0 in ns", "update leases.coordination.k8s.io/s-1 in ns"}
	if len(got) != len(want) {
		t.Fatalf("%d needs, want %d: %+v", len(got), len(want), got)
	}
	for i, n := range got {
		if n.String() != want[i] {
			t.Errorf("need %d = %q, want %q", i, n, want[i])
		}
	}
	if d := dedupe(append(got, got[0])); len(d) != len(got) {
		t.Errorf("dedupe kept %d of %d distinct needs", len(d), len(got))
	}
	if d := dedupe([]access.Need{{Verb: "a"}, {Verb: "b"}, {Verb: "a"}}); len(d) != 2 || d[0].Verb != "a" || d[1].Verb != "b" {
		t.Errorf("dedupe = %+v, want the first of each, in order", d)
	}
}
