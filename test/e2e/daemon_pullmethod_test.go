//go:build linux

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/containerdversion"
	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// The daemon pulls as the node's CRI does: through the Transfer service
// unless a setting makes CRI fall back to a client pull. Each setting is
// given to a real containerd of this line, CRI pulls an image, and its own
// debug log says which way it went; the daemon's reading of the same
// config.toml must agree.
func TestDaemonPullMethodFollowsCRI(t *testing.T) {
	r, _ := startRig(t, "")
	line := r.Containerd.Line
	if line == "1.7" {
		t.Skip("containerd 1.7 has no Transfer service: the daemon and CRI always pull with the client")
	}
	ref := r.Registry.Host() + "/apps/method:1"
	if _, err := imagefixtures.Push(context.Background(), r.Registry.Host(), imagefixtures.Spec{Images: []imagefixtures.Image{
		{Ref: "apps/method:1", Layers: []resource.Quantity{resource.MustParse("8Ki")}, Linux: true},
	}}); err != nil {
		t.Fatal(err)
	}
	// The rig's config sets this key itself, so it is an option.
	const discard = "discard_unpacked_layers = true"
	settings := []string{
		"",
		"use_local_image_pull = true",
		"disable_snapshot_annotations = false",
		discard,
		"max_concurrent_downloads = 4",
		"max_concurrent_downloads = 3",
		"image_pull_with_sync_fs = true",
		"[plugins.'io.containerd.cri.v1.images'.registry.configs.'" + r.Registry.Host() + "'.auth]\n  username = 'u'",
	}
	for i, setting := range settings {
		t.Run(fmt.Sprintf("%d %s", i, strings.Fields(setting + " defaults")[0]), func(t *testing.T) {
			o := rig.ContainerdOptions{Line: line, Debug: true, ImagesConfig: setting}
			if setting == discard {
				o.ImagesConfig, o.DiscardUnpackedLayers = "", true
			}
			c, err := r.StartContainerdWith(context.Background(), fmt.Sprintf("method-%d", i), o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Stop()
			if _, err := c.CRIPull(context.Background(), ref); err != nil {
				t.Fatal(err)
			}
			log, err := c.Log()
			if err != nil {
				t.Fatal(err)
			}
			// v2.4.2 internal/cri/server/images/image_pull.go (v2.1.9 the
			// same): `PullImage %q with snapshotter %s using client.Pull()`
			// or `... using transfer service`.
			m := pullMethodLine.FindSubmatch(log)
			if m == nil {
				t.Fatalf("containerd %s logged no pull method", c.Version)
			}
			criTransfer := string(m[1]) == "transfer service"
			v, err := containerdversion.Parse(c.Version)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := nodeconfig.Read(c.ConfigFile, v.Major)
			if err != nil {
				t.Fatal(err)
			}
			refusal := cfg.TransferRefusal(runtime.GOOS)
			if daemonTransfer := refusal == ""; daemonTransfer != criTransfer {
				t.Errorf("%q: CRI of containerd %s pulls with transfer=%v, the daemon would with transfer=%v (refusal %q)", setting, c.Version, criTransfer, daemonTransfer, refusal)
			}
		})
	}
}

var pullMethodLine = regexp.MustCompile(`msg="PullImage .* using (transfer service|client\.Pull\(\))"`)
