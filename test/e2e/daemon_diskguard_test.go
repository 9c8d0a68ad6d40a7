//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// The disk guard watches the volume of the root containerd's own
// config.toml names when --containerd-root is not given, and a root it
// cannot read stops the pulls with a reason instead of turning the guard
// off.
func TestDaemonDiskGuardFollowsContainerdsRoot(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ref := applied.Ref("apps/b1:1")
	node := applied.Nodes["workers"][0]
	phase(t, "root from config.toml", func(t *testing.T) {
		d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref},
			extra: []string{"--containerd-root", "", "--disk-threshold", "0.01"}})
		p := d.waitDone(time.Minute)
		d.stop()
		if s := stateOf(p.Images, ref); s.State != contract.Skipped || !strings.Contains(s.Reason, r.Containerd.Root) {
			t.Errorf("%s %q; want Skipped by the guard on %s, the root config.toml names", s.State, s.Reason, r.Containerd.Root)
		}
	})
	phase(t, "a root that is not there", func(t *testing.T) {
		missing := r.Dir + "/no-such-root"
		d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: []string{ref},
			extra: []string{"--containerd-root", missing}})
		p := d.waitDone(time.Minute)
		d.stop()
		if s := stateOf(p.Images, ref); s.State != contract.Skipped || !strings.Contains(s.Reason, "cannot read the volume") || !strings.Contains(s.Reason, missing) {
			t.Errorf("%s %q; want Skipped, naming the root the guard cannot read", s.State, s.Reason)
		}
	})
}
