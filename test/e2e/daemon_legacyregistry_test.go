//go:build linux

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// A node whose containerd has no hosts directory (config_path empty, as
// containerd 1.7 on Windows has by default) and keeps its registry
// settings the legacy way: a registry.mirrors entry for a host that
// resolves nowhere, and registry.configs auth for a private registry. CRI
// pulls both; with no pull secret, so must the daemon (planner and pull).
func TestDaemonFollowsTheLegacyRegistrySettings(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	private := privateRegistry(t)
	section := "plugins.'io.containerd.cri.v1.images'.registry"
	if r.Containerd.Line == "1.7" {
		section = "plugins.'io.containerd.grpc.v1.cri'.registry"
	}
	extra := fmt.Sprintf("[%s.mirrors.'mirror.invalid']\n  endpoint = ['http://%s']\n[%s.configs.'%s'.auth]\n  username = 'u'\n  password = 'p'\n",
		section, r.Registry.Host(), section, private.Host())
	node, err := r.StartContainerdWith(context.Background(), "legacy", rig.ContainerdOptions{Line: r.Containerd.Line, NoHostsDir: true, Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	mirrored := "mirror.invalid/" + strings.TrimPrefix(applied.Ref("apps/b1:1"), r.Registry.Host()+"/")
	secret := private.Host() + "/team/secret:1"
	for _, ref := range []string{mirrored, secret} {
		if _, err := node.CRIPull(context.Background(), ref); err != nil {
			t.Fatalf("CRI itself cannot pull %s with these settings: %v", ref, err)
		}
		if err := node.RemoveImage(context.Background(), ref); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: node, images: []string{mirrored, secret},
		extra: []string{"--max-attempts", "1"}})
	p := d.waitDone(2 * time.Minute)
	for _, ref := range []string{mirrored, secret} {
		if s := stateOf(p.Images, ref); s.State != contract.Ready || s.Reason != "" {
			t.Errorf("%s: %s %q; want Ready as CRI pulls it", ref, s.State, s.Reason)
		}
		if criImage(t, node, ref) == nil {
			t.Errorf("%s: CRI does not list it after the daemon's pull", ref)
		}
	}
}
