//go:build linux

package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/winimage-io/kubectl-winimage/test/fleet"
)

// ServeKubeletEndpoints plays, for each node, the part of kubelet's HTTPS
// server that the API server's node proxy reaches (GET
// /api/v1/nodes/NAME/proxy/configz and /stats/summary): a listener on this
// machine's non-loopback address (the API server refuses to proxy to
// loopback: k8s.io/kubernetes v1.37.2 pkg/registry/core/node/strategy.go
// ResourceLocation, proxyutil.IsProxyableHostname) with a certificate of
// the rig CA, and the node's status pointing at it (InternalIP and
// daemonEndpoints.kubeletEndpoint.Port, as kubelet reports them).
func (r *Rig) ServeKubeletEndpoints(ctx context.Context, endpoints map[string]fleet.KubeletEndpoint) error {
	if len(endpoints) == 0 {
		return nil
	}
	ip, err := nonLoopbackIPv4()
	if err != nil {
		return err
	}
	cert, key, err := r.pki.issueServing("kubelet", nil, []net.IP{ip})
	if err != nil {
		return err
	}
	for node, ep := range endpoints {
		handler, err := kubeletHandler(ep)
		if err != nil {
			return fmt.Errorf("node %s: %w", node, err)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.ServeTLS(l, cert, key); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Printf("rig kubelet endpoint: %v", err)
			}
		}()
		r.cleanups = append(r.cleanups, func() { _ = srv.Close() })
		port := l.Addr().(*net.TCPAddr).Port
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{
			"addresses":       []map[string]string{{"type": "InternalIP", "address": ip.String()}, {"type": "Hostname", "address": node}},
			"daemonEndpoints": map[string]any{"kubeletEndpoint": map[string]any{"Port": port}},
		}})
		if _, err := r.Client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			return fmt.Errorf("node %s: %w", node, err)
		}
	}
	return nil
}

// kubeletHandler serves /configz wrapped as kubelet does ({"kubeletconfig":
// …}) and a /stats/summary with the node's file system figures.
func kubeletHandler(ep fleet.KubeletEndpoint) (http.Handler, error) {
	used, err := quantityOrZero(ep.RootUsed)
	if err != nil {
		return nil, fmt.Errorf("rootUsed: %w", err)
	}
	images, err := quantityOrZero(ep.ImagesUsed)
	if err != nil {
		return nil, fmt.Errorf("imagesUsed: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /configz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"kubeletconfig": ep.Config})
	})
	mux.HandleFunc("GET /stats/summary", func(w http.ResponseWriter, _ *http.Request) {
		node := map[string]any{"nodeName": "", "startTime": time.Now().UTC().Format(time.RFC3339)}
		if ep.RootUsed != "" {
			node["fs"] = map[string]any{"usedBytes": used}
		}
		if ep.ImagesUsed != "" {
			node["runtime"] = map[string]any{"imageFs": map[string]any{"usedBytes": images}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"node": node, "pods": []any{}})
	})
	return mux, nil
}

func quantityOrZero(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, err
	}
	return uint64(q.Value()), nil
}
