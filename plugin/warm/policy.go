package warm

import (
	"strings"

	"sigs.k8s.io/yaml"
)

// The daemon's own-pod and node-events policies live in manifests/base/
// policies.yaml (see there); the own-node policy, which names the startup
// taint, is written here. They key on the claims of the token kubelet
// binds to a pod (k8s.io/apiserver v0.37.2 pkg/authentication/
// serviceaccount/util.go NodeNameKey), and fail closed without them.
const nodeNameExtra = "authentication.kubernetes.io/node-name"

// Policy names: each ValidatingAdmissionPolicy and its binding share one.
const (
	// OwnPodPolicyName keeps the daemon's pod writes to the progress and
	// unpin annotations of its own pod.
	OwnPodPolicyName = DaemonName + "-own-pod"
	// NodeEventsPolicyName keeps its Events to its own node, in default.
	NodeEventsPolicyName = DaemonName + "-node-events"
	// OwnNodePolicyName keeps its node update (granted with --startup-taint)
	// to removing that taint from its own node.
	OwnNodePolicyName = DaemonName + "-own-node"
)

// claim is the CEL for the first value of a user-info extra; the caller
// checks presence with hasClaim first.
func claim(key string) string { return "request.userInfo.extra['" + key + "'][0]" }

func hasClaim(key string) string {
	return "'" + key + "' in request.userInfo.extra && size(request.userInfo.extra['" + key + "']) == 1"
}

// sameFields is CEL that holds when each of paths (optional selections on
// object and oldObject, such as "metadata.?labels") is unchanged.
func sameFields(paths ...string) string {
	var parts []string
	for _, p := range paths {
		parts = append(parts, "object."+p+" == oldObject."+p)
	}
	return strings.Join(parts, " && ")
}

// onlyOperation is a policy's first validation, as in the base's: the
// daemon's RBAC grants one write per resource, and anything else (a
// subresource, a delete) is refused here too, should a wider role ever be
// bound.
func onlyOperation(op, what string) map[string]any {
	return map[string]any{
		// request.subResource is absent, not empty, on the object itself.
		"expression": "request.operation == '" + op + "' && (!has(request.subResource) || request.subResource == '')",
		"message":    "winimage-daemon may only " + what,
	}
}

// basePolicyNames are the policies manifests/base/policies.yaml holds.
var basePolicyNames = []string{OwnPodPolicyName, NodeEventsPolicyName}

// daemonMatch is the match condition of every policy: the daemon's account
// in namespace (a DNS label, which holds no quote). The base's name
// winimage-system; Render patches in another namespace.
func daemonMatch(namespace string) string {
	return "request.userInfo.username == 'system:serviceaccount:" + namespace + ":" + DaemonName + "'"
}

// ownNodePolicyYAML is the own-node policy and its binding for the
// daemon's account in namespace; startupTaint is a validated taint key (a
// qualified name, which holds no quote).
func ownNodePolicyYAML(namespace, startupTaint string) ([]byte, error) {
	p := ownNodePolicy(startupTaint)
	labels := map[string]any{"app.kubernetes.io/name": "winimage", PartOfLabel: PartOf}
	var out []byte
	for _, obj := range []any{
		map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
			"metadata": map[string]any{"name": OwnNodePolicyName, "labels": labels},
			"spec": map[string]any{
				"failurePolicy": "Fail",
				"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
					"apiGroups": []any{""}, "apiVersions": []any{"*"}, "operations": []any{"*"}, "resources": []any{"nodes", "nodes/*"},
				}}},
				"matchConditions": []any{map[string]any{"name": "winimage-daemon", "expression": daemonMatch(namespace)}},
				"validations":     p,
			}},
		map[string]any{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
			"metadata": map[string]any{"name": OwnNodePolicyName, "labels": labels},
			"spec":     map[string]any{"policyName": OwnNodePolicyName, "validationActions": []any{"Deny"}}},
	} {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(append(out, "---\n"...), data...)
	}
	return out, nil
}

// ownNodePolicy is the validations of the own-node policy: with
// --startup-taint the daemon may patch nodes, which RBAC cannot narrow;
// here it may only drop that taint, from its own node.
func ownNodePolicy(startupTaint string) []any {
	return []any{
		onlyOperation("UPDATE", "remove the startup taint from its own node"),
		map[string]any{
			"expression": hasClaim(nodeNameExtra) + " && " + claim(nodeNameExtra) + " == object.metadata.name",
			"message":    "winimage-daemon may change only the node its pod runs on",
		},
		map[string]any{
			"expression": sameFields("metadata.?labels", "metadata.?annotations", "metadata.?ownerReferences", "metadata.?finalizers",
				"spec.?unschedulable", "spec.?providerID", "spec.?podCIDR", "spec.?podCIDRs", "spec.?configSource", "spec.?externalID") + " && " +
				"object.spec.?taints.orValue([]).all(t, oldObject.spec.?taints.orValue([]).exists(o, o == t)) && " +
				"oldObject.spec.?taints.orValue([]).all(o, o.key == '" + startupTaint + "' || object.spec.?taints.orValue([]).exists(t, t == o))",
			"message": "winimage-daemon may only remove the startup taint " + startupTaint + " from its node",
		},
	}
}
