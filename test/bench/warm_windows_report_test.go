//go:build linux

package bench

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// contention starts a CRI PullImage of one image (a pod landing on the
// node) once the daemon's warm has fetched half the unique bytes, and times
// until both are done; every layer must still be unpacked once.
func (w *windowsWarm) contention(round int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.timed("contention", round, func(c *rig.Containerd) {
		count, err := c.CountUnpacks(ctx)
		if err != nil {
			w.b.Fatal(err)
		}
		w.r.Registry.ResetCounts()
		kubelet := make(chan error, 1)
		go func() {
			for {
				if _, _, bytes := w.r.Registry.Counts(); bytes >= w.uniqueLayers/2 {
					break
				}
				if ctx.Err() != nil {
					kubelet <- ctx.Err()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			_, err := c.CRIPull(ctx, w.refs[0])
			kubelet <- err
		}()
		runDaemon(w.b, w.r, w.daemonBin, c, w.node, w.refs)
		if err := <-kubelet; err != nil {
			w.b.Fatalf("CRI pull mid-warm: %v", err)
		}
		time.Sleep(300 * time.Millisecond) // the last events
		total, chains := count()
		w.unpacks, w.chains = w.unpacks+total, w.chains+chains
	})
}

// goal formats a ratio against its goal: "ok" or by how much it missed.
func goal(ratio, want float64) string {
	if ratio <= want {
		return fmt.Sprintf("%.2f (goal <= %.2g: ok)", ratio, want)
	}
	return fmt.Sprintf("%.2f (goal <= %.2g: MISSED by %.0f%%)", ratio, want, (ratio/want-1)*100)
}

// spread is (max - min) / median of a method's rounds.
func spread(ds []time.Duration) float64 {
	return (slices.Max(ds) - slices.Min(ds)).Seconds() / median(ds).Seconds()
}

func (w *windowsWarm) report() {
	b, m := w.b, func(method string) time.Duration { return median(w.times[method]) }
	floor := max(min(m("extract"), m("extract3")), m("network"))
	daemon := m("daemon")
	fmt.Printf("warm bench, Windows mode: 6 Windows-shaped images on 2 bases, %d MiB of unique compressed layers\n", w.uniqueLayers>>20)
	fmt.Printf("  native snapshotter (no rebase: sequential unpack); registry %d MiB/s per connection, %s per request; %d rounds, %s\n",
		*windowsRate>>20, *windowsLatency, *windowsRounds, w.dropNote)
	line := func(label, method string) {
		fmt.Printf("  %-52s median %7s of %v (spread %.0f%%)\n", label+":", m(method).Round(time.Millisecond), rounded(w.times[method]), 100*spread(w.times[method]))
	}
	line("floor, extraction (unpack from a full content store)", "extract")
	line("floor, extraction, 3 images at once (bases first)", "extract3")
	line(fmt.Sprintf("floor, network (unique bytes over %d connections)", max(w.conns, 3)), "network")
	line("sequential ctr image pull", "ctr")
	line("sequential CRI PullImage", "cri")
	line("3 CRI PullImage at once (maxParallelImagePulls=3)", "cri3")
	line("winimage-daemon, 3 pulls at once (default)", "daemon")
	line("winimage-daemon, 1 pull at once", "daemon-1")
	line("daemon warm + a CRI pull of one image halfway", "contention")
	ratio := func(a, b time.Duration) float64 { return a.Seconds() / b.Seconds() }
	fmt.Printf("  daemon/ctr: %s; daemon/(3 CRI at once): %s; daemon/floor: %s\n",
		goal(ratio(daemon, m("ctr")), 0.5), goal(ratio(daemon, m("cri3")), 0.6), goal(ratio(daemon, floor), 1.3))
	fmt.Printf("  contention/warm alone: %s; layer unpacks %d for %d chains over the rounds\n", goal(ratio(m("contention"), daemon), 1.1), w.unpacks, w.chains)
	fmt.Printf("  registry blob bytes served to the daemon: %d = unique layers %d + configs %d? %v\n", w.served, w.uniqueLayers, w.configs, w.served == w.uniqueLayers+w.configs)
	fmt.Printf("  daemon peak RSS: %.0f MiB (DaemonSet memory limit %d MiB)\n", float64(w.rss)/(1<<20), daemonMemoryLimit>>20)
	b.ReportMetric(ratio(daemon, m("ctr")), "daemon/ctr")
	b.ReportMetric(ratio(daemon, m("cri3")), "daemon/cri3")
	b.ReportMetric(ratio(daemon, floor), "daemon/floor")
	b.ReportMetric(ratio(m("contention"), daemon), "contention/warm")
	b.ReportMetric(float64(w.rss)/(1<<20), "daemon-peak-RSS-MiB")
	if w.served != w.uniqueLayers+w.configs {
		b.Errorf("the registry served %d blob bytes, want %d (each unique layer and config once)", w.served, w.uniqueLayers+w.configs)
	}
	if w.unpacks != w.chains {
		b.Errorf("%d layer unpacks for %d chains with a CRI pull mid-warm: a layer was unpacked twice", w.unpacks, w.chains)
	}
	if w.rss > daemonMemoryLimit {
		b.Errorf("daemon peak RSS %d MiB over the DaemonSet's %d MiB limit", w.rss>>20, daemonMemoryLimit>>20)
	}
}
