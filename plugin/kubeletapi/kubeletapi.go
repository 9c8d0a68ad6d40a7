// Package kubeletapi reads what a node's kubelet serves about itself, through
// the API server's node proxy (GET /api/v1/nodes/NAME/proxy/...): its running
// configuration (/configz) and its disk usage (/stats/summary). Both need
// the nodes/proxy permission, which is why the commands ask for them
// explicitly instead of reading them by default.
package kubeletapi

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/client-go/kubernetes"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Config reads the node's running kubelet configuration. kubelet serves it
// at /configz wrapped as {"kubeletconfig": {...}} (k8s.io/kubernetes
// v1.37.2 pkg/kubelet/server/server.go InstallDebuggingHandlers with
// component-base configz, registered as "kubeletconfig" in
// cmd/kubelet/app/server.go), in the v1beta1 field names.
func Config(ctx context.Context, client kubernetes.Interface, node string) (*kubeletconfig.KubeletConfiguration, error) {
	var wrapped struct {
		KubeletConfig *kubeletconfig.KubeletConfiguration `json:"kubeletconfig"`
	}
	if err := get(ctx, client, node, "configz", &wrapped); err != nil {
		return nil, err
	}
	if wrapped.KubeletConfig == nil {
		return nil, fmt.Errorf("node %s: /configz has no kubeletconfig", node)
	}
	return wrapped.KubeletConfig, nil
}

// Summary reads the node's stats summary (node file system and the
// runtime's image file system).
func Summary(ctx context.Context, client kubernetes.Interface, node string) (*statsapi.Summary, error) {
	var s statsapi.Summary
	if err := get(ctx, client, node, "stats/summary", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func get(ctx context.Context, client kubernetes.Interface, node, path string, into any) error {
	body, err := client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", path).Do(ctx).Raw()
	if err != nil {
		return fmt.Errorf("node %s: GET /%s through the API server proxy: %w", node, path, err)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("node %s: /%s: %w", node, path, err)
	}
	return nil
}
