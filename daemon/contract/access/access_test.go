package access

import (
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestNeedIsSpelledAsRBACSpellsIt(t *testing.T) {
	cases := map[string]Need{
		"get nodes/n1":                                  {Verb: "get", Resource: "nodes", Name: "n1"},
		"patch pods/p in winimage-system":               {Verb: "patch", Resource: "pods", Namespace: "winimage-system", Name: "p"},
		"create leases.coordination.k8s.io in ns":       {Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: "ns"},
		"update leases.coordination.k8s.io/slot-0 in x": {Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "x", Name: "slot-0"},
	}
	for want, n := range cases {
		if got := n.String(); got != want {
			t.Errorf("%+v: %q, want %q", n, got, want)
		}
	}
}

// TestMissingIsWhatTheAuthorizerDenies: each need is one review carrying its
// attributes, and exactly the denied ones come back, in order.
func TestMissingIsWhatTheAuthorizerDenies(t *testing.T) {
	client := fake.NewClientset()
	var asked []authorizationv1.ResourceAttributes
	client.PrependReactor("create", "selfsubjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		a := *review.Spec.ResourceAttributes
		asked = append(asked, a)
		review.Status.Allowed = a.Verb != "patch" && a.Resource != "leases"
		return true, review, nil
	})
	needs := []Need{
		{Verb: "get", Resource: "nodes", Name: "n1"},
		{Verb: "patch", Resource: "pods", Namespace: "ns", Name: "p", Why: "progress"},
		{Verb: "create", Resource: "events", Namespace: "default", Optional: true},
		{Verb: "create", Group: "coordination.k8s.io", Resource: "leases", Namespace: "ns", Optional: true, Why: "slots"},
	}
	missing, err := Missing(t.Context(), client.AuthorizationV1(), needs)
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != len(needs) || asked[1] != (authorizationv1.ResourceAttributes{Verb: "patch", Resource: "pods", Namespace: "ns", Name: "p"}) {
		t.Errorf("asked %+v", asked)
	}
	if len(missing) != 2 || missing[0] != needs[1] || missing[1] != needs[3] {
		t.Fatalf("missing %+v", missing)
	}
	required, optional := Split(missing)
	if len(required) != 1 || len(optional) != 1 || required[0] != needs[1] {
		t.Errorf("split: %+v / %+v", required, optional)
	}
	if got, want := Describe(missing), "patch pods/p in ns (progress); create leases.coordination.k8s.io in ns (slots)"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}
