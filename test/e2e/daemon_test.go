//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

// Six images on two bases, with Windows entries too (the rig's Linux
// containerd must pick and unpack the linux/amd64 one).
const daemonFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    sc: {layers: [6Mi, 2Mi]}
    nano: {layers: [3Mi]}
  images:
  - {ref: apps/a1:1, bases: [sc], layers: [512Ki], windows: [10.0.17763.6893, 10.0.20348.2582], linux: true}
  - {ref: apps/a2:1, bases: [sc], layers: [256Ki, 64Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/a3:1, bases: [sc], layers: [768Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/b1:1, bases: [nano], layers: [128Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/b2:1, bases: [nano], layers: [384Ki], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/b3:1, bases: [nano], layers: [64Ki], windows: [10.0.20348.2582], linux: true}
nodeGroups:
- {name: workers, kind: managed, os: linux, count: 2, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}
`

var daemonImages = []string{"apps/a1:1", "apps/a2:1", "apps/a3:1", "apps/b1:1", "apps/b2:1", "apps/b3:1"}

func TestDaemonWarmsVerifiesPinsAndReports(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	ctx := context.Background()
	var refs []string
	for _, img := range daemonImages {
		refs = append(refs, applied.Ref(img))
	}
	node := applied.Nodes["workers"][0]
	r.Registry.ResetCounts()
	d := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: refs})
	prog := d.waitDone(2 * time.Minute)
	if !prog.AllReady() || prog.Ready != 6 {
		t.Fatalf("progress = %+v", prog)
	}
	// Through CRI, as kubelet sees them: by tag and by digest, pinned.
	for i, ref := range refs {
		img := criImage(t, r.Containerd, ref)
		if img == nil {
			t.Fatalf("%s not listed by the CRI ImageService", ref)
		}
		pushed, entry, _ := applied.Catalog.Entry(daemonImages[i], "linux", "")
		repo := ref[:strings.LastIndex(ref, ":")]
		if !img.Pinned || len(img.RepoDigests) != 1 || img.RepoDigests[0] != repo+"@"+pushed.IndexDigest {
			t.Errorf("%s: pinned=%v digests=%v, want pinned with %s", ref, img.Pinned, img.RepoDigests, repo+"@"+pushed.IndexDigest)
		}
		if img.Id == "" || entry.Digest == "" {
			t.Errorf("%s: no image id", ref)
		}
	}
	// Shared layers were fetched once: the registry served exactly the
	// unique layer bytes of the linux entries (plus configs).
	var unique int64
	seen := map[string]bool{}
	for _, img := range daemonImages {
		for _, l := range imagefixtures.LinuxLayers(t, applied.Ref(img)) {
			if !seen[l.Digest] {
				seen[l.Digest] = true
				unique += l.Size
			}
		}
	}
	_, blobs, bytes := r.Registry.Counts()
	if bytes < unique || bytes > unique+int64(blobs)*4096 {
		t.Errorf("registry served %d blob bytes in %d GETs; unique layer bytes are %d", bytes, blobs, unique)
	}
	// Progress on the pod, and the node event.
	eventually.Within(10*time.Second, func() bool { return progressAnnotation(t, r, d.pod).AllReady() })
	if a := progressAnnotation(t, r, d.pod); !a.AllReady() || a.Node != node {
		t.Errorf("pod annotation = %+v", a)
	}
	events, err := r.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + node + ",reason=WarmComplete"})
	if err != nil || len(events.Items) != 1 {
		t.Errorf("WarmComplete events on the node: %v %v", events, err)
	}
	if out := runOK(t, nil, daemonBinary(t), "probe", "--state-file", d.stateFile); out != "" {
		t.Errorf("probe printed %q", out)
	}
	if err := d.stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if d.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("exit code %d after SIGTERM", d.cmd.ProcessState.ExitCode())
	}

	// A second daemon finds everything warm: no pull, under a second.
	r.Registry.ResetCounts()
	d2 := startDaemon(t, r, daemonOpts{node: node, containerd: r.Containerd, images: refs})
	p2 := d2.waitDone(time.Minute)
	if !p2.AllReady() {
		t.Fatalf("re-check: %+v", p2)
	}
	if _, blobs, _ := r.Registry.Counts(); blobs != 0 {
		t.Errorf("re-check fetched %d blobs", blobs)
	}
	for _, img := range p2.Images {
		if img.State != contract.Ready || img.Attempts > 1 {
			t.Errorf("re-check: %+v", img)
		}
	}
}
