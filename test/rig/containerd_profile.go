//go:build linux

package rig

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// CPUProfile takes a CPU profile of this containerd for d through its debug
// socket, where containerd serves net/http/pprof (containerd v2.4.2
// plugins/server/debug/plugin.go with internal/pprof/plugin.go; 1.7's debug
// server serves the same handlers). The profile names its functions, so
// the stripped rig binary needs no symbols to read it.
func (c *Containerd) CPUProfile(ctx context.Context, d time.Duration) ([]byte, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, "unix", c.DebugAddress)
		},
	}}
	seconds := max(int(d.Round(time.Second)/time.Second), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://containerd/debug/pprof/profile?seconds=%d", seconds), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("containerd CPU profile: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("containerd CPU profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("containerd CPU profile: %s: %s", resp.Status, body)
	}
	return body, nil
}
