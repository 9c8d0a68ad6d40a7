//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// A registry that serves a layer whose bytes do not match its digest, a
// layer cut short, a manifest that is not the one asked for, a layer it
// never starts sending, or one it sends a byte at a time: each image ends
// Failed with a reason that says which, after a bounded number of attempts
// (a stalled one cancelled as CRI's image_pull_progress_timeout would), and
// leaves no image record kubelet would take for the image; the good image
// beside them is warmed.
func TestDaemonGivesUpOnBadContentAndLeavesNoImageRecord(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	path := func(ref, digest, kind string) string {
		repo := strings.TrimPrefix(ref[:strings.LastIndex(ref, ":")], r.Registry.Host()+"/")
		return "/v2/" + repo + "/" + kind + "/" + digest
	}
	topLayer := func(ref string) string {
		layers := imagefixtures.LinuxLayers(t, ref)
		return layers[len(layers)-1].Digest
	}
	corrupt, truncated, wrongManifest, good := applied.Ref("apps/a2:1"), applied.Ref("apps/a3:1"), applied.Ref("apps/b2:1"), applied.Ref("apps/b1:1")
	stalled, trickled := applied.Ref("apps/b3:1"), applied.Ref("apps/a1:1")
	r.Registry.InjectFault(path(corrupt, topLayer(corrupt), "blobs"), rig.Fault{Corrupt: true})
	r.Registry.InjectFault(path(truncated, topLayer(truncated), "blobs"), rig.Fault{Truncate: true})
	r.Registry.InjectFault(path(stalled, topLayer(stalled), "blobs"), rig.Fault{Stall: true})
	r.Registry.InjectFault(path(trickled, topLayer(trickled), "blobs"), rig.Fault{Trickle: 5 * time.Second})
	manifest, err := imagefixtures.LinuxImage(t, wrongManifest).Digest()
	if err != nil {
		t.Fatal(err)
	}
	other, err := imagefixtures.LinuxImage(t, good).RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	r.Registry.InjectFault(path(wrongManifest, manifest.String(), "manifests"), rig.Fault{Replace: other})

	const attempts = 3
	d := startDaemon(t, r, daemonOpts{node: applied.Nodes["workers"][0], containerd: r.Containerd,
		images: []string{corrupt, truncated, wrongManifest, stalled, trickled, good},
		extra:  []string{"--max-attempts", "3", "--min-backoff", "100ms", "--pull-progress-timeout", "2s"}})
	p := d.waitDone(2 * time.Minute)
	if s := stateOf(p.Images, good); s.State != contract.Ready {
		t.Errorf("the good image: %+v", s)
	}
	client := nodeClient(t, r.Containerd.Address)
	for ref, want := range map[string]string{
		corrupt:       "a layer from the registry does not match its digest",
		truncated:     "from the registry was cut short",
		wrongManifest: "the manifest from the registry does not match its digest",
		stalled:       "no bytes from the registry for 2s",
		trickled:      "no bytes from the registry for 2s",
	} {
		s := stateOf(p.Images, ref)
		if s.State != contract.Failed || !strings.Contains(s.Reason, want) || s.Attempts != attempts ||
			!strings.HasPrefix(s.Reason, "gave up after 3 attempts: ") {
			t.Errorf("%s: %s after %d attempts, %q; want Failed after %d with %q", ref, s.State, s.Attempts, s.Reason, attempts, want)
		}
		if img := criImage(t, r.Containerd, ref); img != nil {
			t.Errorf("%s: CRI lists %+v", ref, img)
		}
		if rec, err := client.ImageService().Get(ctx, ref); !errdefs.IsNotFound(err) {
			t.Errorf("%s: an image record is left: %+v (%v)", ref, rec, err)
		}
	}
}
