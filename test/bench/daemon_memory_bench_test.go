//go:build linux

package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// BenchmarkDaemonMemoryByContainerdLine runs the daemon over the
// Windows-shaped fleet (its largest image 264 MiB in five layers) on each
// containerd line EKS Windows AMIs ship, and reports its peak RSS against
// the DaemonSet's 256 MiB memory limit (a job object on Windows: a daemon
// past it is killed). The 1.7 path pulls with the containerd client in the
// daemon's own process, the path that must be kept inside the limit; it
// fails above half of it.
func BenchmarkDaemonMemoryByContainerdLine(b *testing.B) {
	r, applied, f := startFleet(b, windowsFleet)
	defer r.Stop()
	var refs []string
	for _, img := range f.Images.Images {
		refs = append(refs, applied.Ref(img.Ref))
	}
	bin := gobuild.Binary(b, "./cmd/winimage-daemon")
	r.Registry.Throttle(*windowsRate)
	r.Registry.Latency(*windowsLatency)
	for i := 0; i < b.N; i++ {
		for _, line := range []string{"1.7", "2.1", "2.4"} {
			c, err := r.StartContainerdWith(context.Background(), fmt.Sprintf("memory-%s-%d", line, i), rig.ContainerdOptions{Line: line})
			if err != nil {
				b.Fatal(err)
			}
			run := runDaemon(b, r, bin, c, applied.Nodes["node"][0], refs, "--containerd-config", c.ConfigFile)
			c.Stop()
			fmt.Printf("containerd %s: daemon peak RSS %.0f MiB (limit %d MiB), warm %s\n", c.Version, float64(run.peakRSS)/(1<<20), daemonMemoryLimit>>20, run.wall.Round(100e6))
			b.ReportMetric(float64(run.peakRSS)/(1<<20), "peak-RSS-MiB-containerd-"+line)
			if run.peakRSS > daemonMemoryLimit/2 {
				b.Errorf("containerd %s: daemon peak RSS %d MiB, over half the DaemonSet's %d MiB limit", line, run.peakRSS>>20, daemonMemoryLimit>>20)
			}
		}
	}
}
