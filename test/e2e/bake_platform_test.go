//go:build linux

package e2e

import (
	"context"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/winimage-io/kubectl-winimage/plugin/bake"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

const threeBuildsFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    sc: {layers: [64Ki]}
  images:
  - {ref: apps/three:1, bases: [sc], layers: [32Ki], windows: [10.0.17763.6893, 10.0.20348.2582, 10.0.26100.1742]}
nodeGroups:
- {name: workers, kind: managed, os: linux, count: 1, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}
`

// The component's --platform names one Windows build. With plain
// windows/amd64 every Windows entry of an index matches (ctr 1.7 unpacks the
// first, a 17763 entry on a 20348 AMI; ctr 2.x all of them). Fetched with
// each containerd line's own ctr, from an index with 17763, 20348 and 26100
// entries, the 20348 plan gets the 20348 entry.
func TestBakePlatformFetchesOnlyTheBuildsEntry(t *testing.T) {
	r, applied := startRig(t, threeBuildsFleet)
	ctx := context.Background()
	ref := applied.Ref("apps/three:1")
	// Each entry's own layers (bases differ per build): which entry was
	// taken shows in which layers were fetched; ctr fetches every entry's
	// manifest and config as metadata either way.
	layersOf := map[string][]string{} // os.version → layer digests
	repo := ref[:strings.LastIndex(ref, ":")]
	for _, e := range applied.Catalog["apps/three:1"].Entries {
		m, err := remote.Image(mustRef(t, repo+"@"+e.Digest))
		if err != nil {
			t.Fatal(err)
		}
		manifest, err := m.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range manifest.Layers {
			layersOf[e.OSVersion] = append(layersOf[e.OSVersion], l.Digest.String())
		}
	}
	platform := bake.PlatformFor(20348)
	for _, line := range []string{"2.4", "2.1", "1.7"} {
		t.Run("containerd "+line, func(t *testing.T) {
			c, err := r.StartContainerdWith(ctx, "ctr-"+strings.ReplaceAll(line, ".", ""), rig.ContainerdOptions{Line: line})
			if err != nil {
				t.Fatal(err)
			}
			ctr, err := rig.CtrOf(line)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"--address", c.Address, "-n", "k8s.io", "content", "fetch", "--hosts-dir", c.HostsDir, "--platform", platform, ref}
			if out, err := exec.CommandContext(ctx, ctr, args...).CombinedOutput(); err != nil {
				t.Fatalf("ctr %s does not take --platform %s: %v\n%s", line, platform, err, out)
			}
			out, err := exec.CommandContext(ctx, ctr, "--address", c.Address, "-n", "k8s.io", "content", "ls", "-q").CombinedOutput()
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, d := range strings.Fields(string(out)) {
				have[d] = true
			}
			var fetched []string
			for _, v := range slices.Sorted(maps.Keys(layersOf)) {
				all := true
				for _, d := range layersOf[v] {
					all = all && have[d]
				}
				if all {
					fetched = append(fetched, v)
				}
			}
			got := strings.Join(fetched, ",")
			switch line {
			case "1.7":
				// A Linux build of ctr 1.7 (platforms v0.2.1) matches Windows
				// OS versions only on Windows, so here it fetches every
				// Windows entry; on the Image Builder instance its Windows
				// matcher keeps the build's. Here: it parses the platform,
				// and the build's entry is among what it fetched.
				if !strings.Contains(got, "10.0.20348.2582") {
					t.Errorf("fetched entries %q lack the 20348 one", got)
				}
			default:
				if got != "10.0.20348.2582" {
					t.Errorf("fetched entries %q, want only 10.0.20348.2582", got)
				}
			}
		})
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
