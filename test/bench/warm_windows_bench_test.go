//go:build linux

package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/platforms"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

var (
	windowsRate    = flag.Int64("winimage.registry-rate", 40<<20, "Windows-mode warm bench: registry bytes per second per connection (ECR gave an 8 GiB Windows image 25-38 MiB/s)")
	windowsLatency = flag.Duration("winimage.registry-latency", 20*time.Millisecond, "Windows-mode warm bench: latency added to every registry GET")
	windowsRounds  = flag.Int("winimage.rounds", 5, "Windows-mode warm bench: interleaved rounds (3 left two runs 10.5% apart on the daemon's median)")
)

// windowsFleet is shaped like Windows images, scaled down: two bases of two
// large layers and a small one (servercore's shape), a .NET Framework layer
// on half the images, a small app layer on each; 6 images on 2 bases.
const windowsFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  compressible: true
  bases:
    core-a: {layers: [160Mi, 64Mi, 2Mi]}
    core-b: {layers: [128Mi, 48Mi, 2Mi]}
    net-a: {layers: [32Mi]}
    net-b: {layers: [32Mi]}
  images:
  - {ref: win/a1:1, bases: [core-a, net-a], layers: [6Mi], linux: true}
  - {ref: win/a2:1, bases: [core-a, net-a], layers: [6Mi], linux: true}
  - {ref: win/a3:1, bases: [core-a], layers: [6Mi], linux: true}
  - {ref: win/b1:1, bases: [core-b, net-b], layers: [6Mi], linux: true}
  - {ref: win/b2:1, bases: [core-b], layers: [6Mi], linux: true}
  - {ref: win/b3:1, bases: [core-b], layers: [6Mi], linux: true}
nodeGroups:
- {name: node, kind: managed, os: linux, count: 1, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}
`

// daemonMemoryLimit is the DaemonSet's memory limit
// (manifests/base/daemonset.yaml): the daemon streams layers to containerd
// and holds the image list and progress, so its peak must stay well inside.
const daemonMemoryLimit = 256 << 20

// windowsWarm holds one Windows-mode bench's rig, images and timings.
type windowsWarm struct {
	b         *testing.B
	r         *rig.Rig
	refs      []string
	node      string
	daemonBin string
	// blobs maps each unique layer digest to a repository holding it,
	// sizes to its size.
	blobs        map[string]string
	sizes        map[string]int64
	uniqueLayers int64
	configs      int64
	dropNote     string
	times        map[string][]time.Duration
	rss          int64
	served       int64
	conns        int64
	// unpacks and chains of the contention runs: layer unpacks against
	// distinct chains.
	unpacks, chains int
}

// BenchmarkWarmWindowsMode measures warm the way a Windows node behaves: a
// snapshotter without rebase (containerd unpacks an image's layers one by
// one), a registry that gives each connection --winimage.registry-rate with
// --winimage.registry-latency per request, and Windows-shaped images. In
// interleaved rounds, each method into a fresh containerd with the page
// cache dropped first: the floor (the larger of unpacking everything from a
// full content store and fetching every unique byte over the connections
// the daemon used), sequential `ctr image pull`, sequential CRI PullImage,
// three CRI pulls at once (kubelet's maxParallelImagePulls=3), the daemon at
// one and three pulls at once, and a CRI pull of one image started halfway
// through a warm.
func BenchmarkWarmWindowsMode(b *testing.B) {
	w := startWindowsWarm(b)
	defer w.r.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for round := 0; round < *windowsRounds; round++ {
			w.round(round)
		}
		w.report()
		w.profileDaemonWarm()
	}
}

func startWindowsWarm(b *testing.B) *windowsWarm {
	r, applied, f := startFleet(b, windowsFleet)
	w := &windowsWarm{b: b, r: r, node: applied.Nodes["node"][0], daemonBin: gobuild.Binary(b, "./cmd/winimage-daemon"),
		blobs: map[string]string{}, sizes: map[string]int64{}, times: map[string][]time.Duration{}}
	for _, img := range f.Images.Images {
		ref := applied.Ref(img.Ref)
		w.refs = append(w.refs, ref)
		repo := strings.TrimPrefix(ref[:strings.LastIndex(ref, ":")], r.Registry.Host()+"/")
		for _, l := range imagefixtures.LinuxLayers(b, ref) {
			if _, ok := w.blobs[l.Digest]; !ok {
				w.blobs[l.Digest], w.sizes[l.Digest] = repo, l.Size
				w.uniqueLayers += l.Size
			}
		}
		w.configs += configSize(b, ref)
	}
	r.Registry.Throttle(*windowsRate)
	r.Registry.Latency(*windowsLatency)
	if err := dropPageCache(); err != nil {
		w.dropNote = "page cache NOT dropped between methods (" + err.Error() + ")"
	} else {
		w.dropNote = "page cache dropped before each method"
	}
	return w
}

// dropPageCache writes dirty pages and drops the page cache, so each
// method reads and writes the disk as a fresh node does.
func dropPageCache() error {
	if err := exec.Command("sync").Run(); err != nil {
		return err
	}
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

// fresh starts a containerd with the sequential-unpack snapshotter after
// dropping the page cache; stop it with done, which also deletes its root
// (the native snapshotter copies each parent: a round writes ~15 GB).
func (w *windowsWarm) fresh(name string) *rig.Containerd {
	c, err := w.r.StartContainerdWith(context.Background(), name, rig.ContainerdOptions{Snapshotter: "native"})
	if err != nil {
		w.b.Fatal(err)
	}
	if c.Snapshotter != "native" {
		w.b.Fatalf("containerd %s runs %s, want native", name, c.Snapshotter)
	}
	_ = dropPageCache()
	return c
}

func done(c *rig.Containerd) {
	c.Stop()
	_ = os.RemoveAll(c.Root)
}

func (w *windowsWarm) timed(method string, round int, fn func(c *rig.Containerd)) {
	c := w.fresh(fmt.Sprintf("%s-%d", method, round))
	defer done(c)
	t0 := time.Now()
	fn(c)
	w.times[method] = append(w.times[method], time.Since(t0))
}

// round runs every method once, the order rotated each round.
func (w *windowsWarm) round(round int) {
	methods := []func(int){w.daemon3, w.ctrSequential, w.criSequential, w.criParallel, w.daemon1, w.floors, w.contention}
	for k := range methods {
		methods[(k+round)%len(methods)](round)
	}
}

func (w *windowsWarm) ctrSequential(round int) {
	w.timed("ctr", round, func(c *rig.Containerd) {
		for _, ref := range w.refs {
			cmd := exec.Command(w.r.Binaries.Ctr, "--address", c.Address, "-n", "k8s.io", "image", "pull", "--plain-http", "--snapshotter", c.Snapshotter, ref)
			if out, err := cmd.CombinedOutput(); err != nil {
				w.b.Fatalf("ctr pull %s: %v\n%s", ref, err, out)
			}
		}
	})
}

func (w *windowsWarm) criSequential(round int) {
	w.timed("cri", round, func(c *rig.Containerd) {
		for _, ref := range w.refs {
			if _, err := c.CRIPull(context.Background(), ref); err != nil {
				w.b.Fatalf("CRI pull %s: %v", ref, err)
			}
		}
	})
}

// criParallel is kubelet with serializeImagePulls=false and
// maxParallelImagePulls=3 pulling the images for pods that arrive at once.
func (w *windowsWarm) criParallel(round int) {
	w.timed("cri3", round, func(c *rig.Containerd) {
		w.inParallel(w.refs, 3, func(ref string) error {
			_, err := c.CRIPull(context.Background(), ref)
			return err
		})
	})
}

func (w *windowsWarm) inParallel(refs []string, n int, fn func(ref string) error) {
	parallelN(w.b, n, len(refs), func(i int) error {
		if err := fn(refs[i]); err != nil {
			return fmt.Errorf("%s: %w", refs[i], err)
		}
		return nil
	})
}

func (w *windowsWarm) daemon3(round int) { w.daemonRun("daemon", round, "3") }
func (w *windowsWarm) daemon1(round int) { w.daemonRun("daemon-1", round, "1") }

func (w *windowsWarm) daemonRun(method string, round int, parallel string) {
	w.timed(method, round, func(c *rig.Containerd) {
		w.r.Registry.ResetCounts()
		run := runDaemon(w.b, w.r, w.daemonBin, c, w.node, w.refs, "--parallel-pulls", parallel)
		w.rss = max(w.rss, run.peakRSS)
		if method == "daemon" {
			_, _, w.served = w.r.Registry.Counts()
			w.conns = max(w.conns, w.r.Registry.MaxBlobsInFlight())
		}
	})
}

// floors times the two halves of a pull alone: unpacking every image from a
// content store that already holds every byte (one image after another,
// and three at once with the first image of each base ahead of the rest,
// as the daemon orders them), and fetching every unique byte with as many
// connections as the daemon used at most.
func (w *windowsWarm) floors(round int) {
	w.extract(fmt.Sprintf("floor-%d", round), "extract", 1)
	w.extract(fmt.Sprintf("floor3-%d", round), "extract3", 3)
	conns := max(w.conns, 3)
	digests := make([]string, 0, len(w.blobs))
	for d := range w.blobs {
		digests = append(digests, d)
	}
	// Largest first, as a fetcher that knows the sizes would.
	slices.SortFunc(digests, func(a, b string) int { return int(w.sizes[b] - w.sizes[a]) })
	t0 := time.Now()
	w.fetchAll(digests, int(conns))
	w.times["network"] = append(w.times["network"], time.Since(t0))
}

// extract fetches every image into a fresh containerd, unthrottled and
// untimed, then times unpacking them, parallel at once.
func (w *windowsWarm) extract(name, method string, parallel int) {
	ctx := context.Background()
	c := w.fresh(name)
	defer done(c)
	client, err := containerd.New(c.Address, containerd.WithDefaultNamespace("k8s.io"))
	if err != nil {
		w.b.Fatal(err)
	}
	defer client.Close()
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: config.ConfigureHosts(ctx, config.HostOptions{HostDir: config.HostDirFromRoot(c.HostsDir)})})
	w.r.Registry.Throttle(0)
	imgs := map[string]containerd.Image{}
	for _, ref := range w.refs {
		img, err := client.Fetch(ctx, ref, containerd.WithResolver(resolver), containerd.WithPlatformMatcher(platforms.Default()))
		if err != nil {
			w.b.Fatalf("fetch %s: %v", ref, err)
		}
		imgs[ref] = containerd.NewImageWithPlatform(client, img, platforms.Default())
	}
	w.r.Registry.Throttle(*windowsRate)
	_ = dropPageCache()
	unpack := func(ref string) error { return imgs[ref].Unpack(ctx, c.Snapshotter) }
	t0 := time.Now()
	if parallel == 1 {
		for _, ref := range w.refs {
			if err := unpack(ref); err != nil {
				w.b.Fatal(err)
			}
		}
	} else {
		// a1 and b1 carry the two bases; the rest then find them unpacked.
		firsts := []string{w.refs[0], w.refs[3]}
		rest := append(append([]string{}, w.refs[1:3]...), w.refs[4:]...)
		w.inParallel(firsts, parallel, unpack)
		w.inParallel(rest, parallel, unpack)
	}
	w.times[method] = append(w.times[method], time.Since(t0))
}

func (w *windowsWarm) fetchAll(digests []string, conns int) {
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for k := 0; k < conns; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				resp, err := http.Get("http://" + w.r.Registry.Host() + "/v2/" + w.blobs[d] + "/blobs/" + d)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, d := range digests {
		work <- d
	}
	close(work)
	wg.Wait()
	if first != nil {
		w.b.Fatal(first)
	}
}
