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
	"io"

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
	if err := get(ctx, client, node, "configz", MaxConfigzBytes, &wrapped); err != nil {
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
	if err := get(ctx, client, node, "stats/summary", MaxSummaryBytes, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// What a node's kubelet answers is the node's to write: a compromised node
// can answer with anything, so each read is bounded where it is made.
const (
	// MaxConfigzBytes bounds /configz. A KubeletConfiguration is a few KiB;
	// the bound is the API server's own for any request body (k8s.io/
	// apiserver v0.37.2 pkg/server/config.go MaxRequestBodyBytes, 3 MiB),
	// more than any configuration an API object could carry.
	MaxConfigzBytes = 3 << 20
	// MaxSummaryBytes bounds /stats/summary, which grows with the node's
	// pods: kubelet's summary is about 4 KiB a pod with its containers and
	// volumes, so 16 MiB covers 250 pods (EKS's most per node) with room.
	MaxSummaryBytes = 16 << 20
)

func get(ctx context.Context, client kubernetes.Interface, node, path string, limit int64, into any) error {
	body, err := client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy", path).Stream(ctx)
	if err != nil {
		return fmt.Errorf("node %s: GET /%s through the API server proxy: %w", node, path, err)
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return fmt.Errorf("node %s: /%s: %w", node, path, err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("node %s: /%s is over %d MiB, more than any kubelet answers; not read", node, path, limit>>20)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("node %s: /%s: %w", node, path, err)
	}
	return nil
}
