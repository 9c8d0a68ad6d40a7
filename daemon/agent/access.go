package agent

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/access"
)

// needs are the permissions this configuration uses: what warm's manifests
// grant (manifests/base role.yaml and clusterrole.yaml, with the lease and
// taint rules plugin/warm/render.go adds only for the flags that use them).
func (cfg Config) needs() []access.Need {
	needs := []access.Need{
		{Verb: "get", Resource: "nodes", Name: cfg.Node, Why: "to read the node's Windows build"},
		{Verb: "create", Resource: "events", Namespace: "default", Why: "to record warm results on the node", Optional: true},
	}
	if cfg.Pod != "" {
		needs = append(needs, publishNeed(cfg.Identity))
	}
	if cfg.MaxConcurrentNodes > 0 {
		// The slots are the Leases Prefix-0…; warm grants get and update on
		// exactly those names, so one of them is asked about.
		slot := contract.SlotLease(cfg.SlotLeasePrefix, 0)
		for _, n := range []access.Need{{Verb: "get", Name: slot}, {Verb: "update", Name: slot}, {Verb: "create"}, {Verb: "list"}, {Verb: "watch"}} {
			n.Group, n.Resource, n.Namespace, n.Why = "coordination.k8s.io", "leases", cfg.PodNamespace, "to hold a cluster-wide pull slot"
			needs = append(needs, n)
		}
	}
	if cfg.StartupTaint != "" {
		needs = append(needs, access.Need{Verb: "patch", Resource: "nodes", Name: cfg.Node, Why: "to remove the startup taint"})
	}
	return needs
}

// publishNeed is what publishing on the daemon's own pod takes.
func publishNeed(id Identity) access.Need {
	return access.Need{Verb: "patch", Resource: "pods", Namespace: id.PodNamespace, Name: id.Pod, Why: "to publish progress on its pod for warm status"}
}

// checkAccess stops the daemon before it touches the node when a needed
// permission is missing, naming each; it returns the optional ones missing
// as a warning to publish.
func checkAccess(ctx context.Context, kube kubernetes.Interface, needs []access.Need) (warning string, err error) {
	missing, err := access.Missing(ctx, kube.AuthorizationV1(), needs)
	if err != nil {
		return "", err
	}
	required, optional := access.Split(missing)
	if len(required) > 0 {
		return "", fmt.Errorf("the daemon's identity lacks %s", access.Describe(append(required, optional...)))
	}
	if len(optional) > 0 {
		return "the daemon's identity lacks " + access.Describe(optional), nil
	}
	return "", nil
}
