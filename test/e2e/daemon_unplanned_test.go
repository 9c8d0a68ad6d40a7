//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// When the registry fails the planner (here its GET of the tag is cut
// short; containerd resolves with a HEAD and is not hurt), the pull still
// runs under the stall watch: a layer the registry never sends is cancelled
// after --pull-progress-timeout, as CRI would, instead of holding the node.
func TestDaemonWatchesAPullItCouldNotPlan(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ref := applied.Ref("apps/b3:1")
	repo := strings.TrimPrefix(ref[:strings.LastIndex(ref, ":")], r.Registry.Host()+"/")
	layers := imagefixtures.LinuxLayers(t, ref)
	r.Registry.InjectFault("/v2/"+repo+"/manifests/1", rig.Fault{Truncate: true})
	r.Registry.InjectFault("/v2/"+repo+"/blobs/"+layers[len(layers)-1].Digest, rig.Fault{Stall: true})
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd, images: []string{ref},
		extra: []string{"--max-attempts", "1", "--pull-progress-timeout", "2s"}})
	p := d.waitDone(90 * time.Second)
	s := stateOf(p.Images, ref)
	if s.State != contract.Failed || !strings.Contains(s.Reason, "no bytes from the registry for 2s") {
		t.Errorf("unplanned pull of a stalled layer: %s %q; want Failed by the stall watch", s.State, s.Reason)
	}
}
