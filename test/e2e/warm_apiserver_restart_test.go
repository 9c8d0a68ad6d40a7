//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/eventually"
)

// slowFleet is two stand-in nodes and images whose 6 MiB layers take 12 s
// each at 512 KiB/s (6 s at 1 MiB/s): long enough to restart the API
// server, or terminate a node, in the middle of the warm.
const slowFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    sc: {layers: [6Mi, 6Mi]}
  images:
  - {ref: apps/slow:1, bases: [sc], layers: [1Mi], windows: [10.0.20348.2582], linux: true}
  - {ref: apps/slow2:1, layers: [6Mi, 6Mi], windows: [10.0.20348.2582], linux: true}
nodeGroups:
- {name: workers, kind: managed, os: linux, count: 2, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4, standIn: true}
`

// An API server restart mid-warm (a control-plane upgrade): the daemons
// keep pulling while it is down and publish when it is back; `warm --wait`
// and `warm status -w` re-list through the dropped watches and neither
// stops early nor claims the nodes warm before CRI has the image.
func TestWarmSurvivesAnAPIServerRestart(t *testing.T) {
	r, applied := startRig(t, slowFleet)
	nodes, _ := standIn(t, r, applied.Nodes["workers"])
	ref := applied.Ref("apps/slow:1")
	r.Registry.Throttle(512 << 10)
	waiting := startPlugin(t, r.Kubeconfig, "warm", "--os", "linux", "--daemon-image", "r.example/winimage-daemon:e2e",
		"--wait", "--timeout", "4m", "--disk-threshold", "1", ref)
	waiting.waitFor(t, 2*time.Minute, "Warming")
	following := startPlugin(t, r.Kubeconfig, "warm", "status", "-w", "--os", "linux")
	following.waitFor(t, time.Minute, "Warming")

	_, _, bytesBefore := r.Registry.Counts()
	if err := r.RestartAPIServer(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	_, _, bytesAfter := r.Registry.Counts()
	select {
	case <-waiting.done:
		out, errOut := waiting.output()
		t.Fatalf("warm --wait ended while the API server was down:\n%s\n%s", out, errOut)
	default:
	}
	if bytesAfter == bytesBefore {
		t.Errorf("no layer bytes fetched while the API server was down")
	}

	waiting.waitFor(t, 3*time.Minute, "all 2 nodes warm")
	// Settled means CRI has it on every node, at the moment --wait says so.
	for n, c := range nodes {
		if img := criImage(t, c, ref); img == nil || !img.Pinned {
			t.Errorf("%s: warm --wait said warm, CRI has %+v", n, img)
		}
	}
	out, _ := waiting.output()
	for n := range nodes {
		if got := strings.Count(out, n+": Ready, 1/1 images"); got != 1 {
			t.Errorf("%s: %d Ready lines, want 1:\n%s", n, got, out)
		}
	}
	if strings.Count(out, "all 2 nodes warm") != 1 {
		t.Errorf("warm --wait output:\n%s", out)
	}

	// status -w outlived the drop: its latest table has both nodes Ready.
	if !eventually.Within(time.Minute, func() bool {
		out, _ := following.output()
		tables := strings.Split(out, "\n\n")
		return strings.Count(tables[len(tables)-1], " Ready ") == 2
	}) {
		out, _ := following.output()
		t.Fatalf("warm status -w never showed both nodes Ready after the restart:\n%s", out)
	}
	if out, errOut, code := following.interrupt(t); code != 0 {
		t.Errorf("warm status -w: exit %d\n%s\n%s", code, out, errOut)
	}
}
