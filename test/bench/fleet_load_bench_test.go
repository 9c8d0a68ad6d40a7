//go:build linux

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// loadNodes is how many daemons the fleet-load bench runs, each on its own
// stand-in node with its own containerd: as many as two cores carry.
const loadNodes = 8

// loadFleet: an image of 4 MiB (throttled so that a pull lasts seconds)
// and one by digest on a shared base, for the paced warm; a third on its
// own base, pulled slowly, for the cost of a long pull; loadNodes Linux
// nodes under kwok.
var loadFleet = fmt.Sprintf(`
apiVersion: fleet.winimage.io/v1
kind: Fleet
images:
  bases:
    base: {layers: [2Mi]}
  images:
  - {ref: load/app:1, bases: [base], layers: [2Mi], linux: true}
  - {ref: load/tool:1, bases: [base], layers: [64Ki], linux: true}
  - {ref: load/long:1, layers: [4Mi], linux: true}
nodeGroups:
- {name: load, kind: managed, os: linux, count: %d, ami: ami-0lin, kubelet: v1.37.2-eks-1a2b3c4}
`, loadNodes)

// Recheck intervals: the bench's shortened one, and the defaults each
// daemon's figures are scaled to (the baseline daemon of
// WINIMAGE_BENCH_DAEMON_BEFORE, commit ae85725, rechecked every 10
// minutes).
const (
	loadRecheck     = 10 * time.Second
	loadWindow      = 60 * time.Second
	recheckBefore   = 10 * time.Minute
	recheckNow      = 4 * time.Hour
	beforeEnvBinary = "WINIMAGE_BENCH_DAEMON_BEFORE"
)

// BenchmarkDaemonFleetLoad runs loadNodes real daemons against the rig's
// API server and registry and counts what they ask, from the API server's
// own apiserver_request_total (minus a window without daemons, for kwok's
// and the controllers' traffic) and the registry's request counts: a
// paced warm (--max-concurrent-nodes 1), the pulls themselves, and a
// steady state with everything warm. Each figure is per node and for
// 1,000 nodes. With WINIMAGE_BENCH_DAEMON_BEFORE naming a daemon binary
// built from an earlier tree, the same run measures it too.
func BenchmarkDaemonFleetLoad(b *testing.B) {
	daemons := [][2]string{{"now", gobuild.Binary(b, "./cmd/winimage-daemon")}}
	if before := os.Getenv(beforeEnvBinary); before != "" {
		daemons = append([][2]string{{"before", before}}, daemons...)
	}
	for _, d := range daemons {
		recheck := recheckNow
		if d[0] == "before" {
			recheck = recheckBefore
		}
		fleetLoad(b, d[0], d[1], recheck).print(d[0])
	}
}

// loadFigures are one daemon build's counts.
type loadFigures struct {
	nodes int
	// Paced warm: lease requests of waiting nodes, those made once per
	// wait (a list and a watch) and those made while waiting (gets, lost
	// attempts); the node-seconds spent waiting; the mean pull time.
	waitSetup, waitOngoing float64
	waits, waitSeconds     float64
	pacedPull              float64
	leases                 string
	// A long pull: its seconds, and pod patches and Events per node.
	pullSeconds, patches, events float64
	// Steady state per node per recheck.
	apiPerRecheck, getsPerRecheck, headsPerRecheck float64
	recheck                                        time.Duration
}

func (f loadFigures) print(label string) {
	perHour := float64(time.Hour) / float64(f.recheck)
	ongoingPerMin := f.waitOngoing / (f.waitSeconds / 60)
	// 1,000 nodes paced one at a time wait 1,000 pulls in all: each wait's
	// list and watch spread over that, what they send while waiting all
	// along.
	paced1000 := 1000*ongoingPerMin/60 + (f.waitSetup/f.waits)/f.pacedPull
	fmt.Printf("fleet load (%s), %d daemons:\n", label, f.nodes)
	fmt.Printf("  paced warm: per waiting node %.1f requests a minute while it waits, %.1f once per wait; 1,000 waiting nodes: %.1f requests/s (goal ≤ 20)\n",
		ongoingPerMin, f.waitSetup/f.waits, paced1000)
	fmt.Printf("    (lease requests of the paced warm by verb and code: %s)\n", f.leases)
	fmt.Printf("  a pull of %.0f s: %.1f pod patches and %.1f Events per node; 1,000 nodes: %.0f patches, %.0f Events\n",
		f.pullSeconds, f.patches, f.events, 1000*f.patches, 1000*f.events)
	fmt.Printf("  steady state (recheck every %s): per node per hour %.1f API requests, %.1f manifest GETs, %.1f HEADs; 1,000 nodes: %.2f API requests/s (goal ≤ 1), %.2f registry requests/s (goal ≤ 1, GETs 0)\n",
		f.recheck, f.apiPerRecheck*perHour, f.getsPerRecheck*perHour, f.headsPerRecheck*perHour,
		1000*f.apiPerRecheck*perHour/3600, 1000*(f.getsPerRecheck+f.headsPerRecheck)*perHour/3600)
}

func fleetLoad(b *testing.B, label, bin string, recheck time.Duration) loadFigures {
	ctx := context.Background()
	r, applied, _ := startFleet(b, loadFleet)
	defer r.Stop()
	refs := []string{applied.Ref("load/app:1"), pinnedRef(b, applied.Ref("load/tool:1"))}
	nodes := applied.Nodes["load"]
	fig := loadFigures{nodes: len(nodes), recheck: recheck}
	if _, err := r.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: contract.DefaultNamespace}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	var daemons []*loadDaemon
	for i, node := range nodes {
		c, err := r.StartContainerd(ctx, fmt.Sprintf("load-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		daemons = append(daemons, newLoadDaemon(b, r, i, node, c, refs))
	}
	baseline := rateOver(b, r, 20*time.Second)
	pacedWarm(b, r, daemons, bin, baseline, &fig)
	longPull(b, r, daemons, bin, append(refs, applied.Ref("load/long:1")), &fig)

	// Steady state: everything warm, nothing moves; rechecks every
	// loadRecheck.
	r.Registry.Throttle(0)
	time.Sleep(2 * loadRecheck)
	r.Registry.ResetCounts()
	before := apiCounts(b, r)
	time.Sleep(loadWindow)
	steady := apiCounts(b, r).minus(before).minus(baseline.times(loadWindow))
	gets, _, _ := r.Registry.Counts()
	rechecks := float64(len(daemons)) * float64(loadWindow) / float64(loadRecheck)
	fig.apiPerRecheck = max(steady.total(), 0) / rechecks
	fig.getsPerRecheck = float64(gets) / rechecks
	fig.headsPerRecheck = float64(r.Registry.ManifestHeads()) / rechecks
	for _, d := range daemons {
		d.stop()
	}
	return fig
}

// pacedWarm starts the daemons with --max-concurrent-nodes 1 and counts
// the lease requests of the nodes that wait.
func pacedWarm(b *testing.B, r *rig.Rig, daemons []*loadDaemon, bin string, baseline requestCounts, fig *loadFigures) {
	r.Registry.Throttle(1 << 20)
	before := apiCounts(b, r)
	t0 := time.Now()
	for _, d := range daemons {
		d.start(b, bin, "--max-concurrent-nodes", "1", "--recheck-interval", loadRecheck.String())
	}
	for _, d := range daemons {
		d.waitPulling(b, t0)
	}
	for _, d := range daemons {
		d.waitReady(b, t0)
	}
	paced := apiCounts(b, r).minus(before).minus(baseline.times(time.Since(t0)))
	for _, d := range daemons {
		fig.waitSeconds += d.pulling.Sub(t0).Seconds()
		fig.pacedPull += d.ready.Sub(d.pulling).Seconds() / float64(len(daemons))
	}
	fig.waits = float64(len(daemons))
	fig.leases = paced.of("leases")
	// A first look at a Lease not yet made is a 404, once per wait; gets
	// that find it (a poll) and lost attempts (409) come while waiting.
	fig.waitSetup = paced.sum("LIST", "leases") + paced.sum("WATCH", "leases") + paced.verbCode("GET", "leases", "404")
	fig.waitOngoing = paced.verbCode("GET", "leases", "200") + paced.code("leases", "409")
}

// longPull restarts the daemons unpaced with a slow image added and
// counts the pod patches and the daemons' Events its pull makes.
func longPull(b *testing.B, r *rig.Rig, daemons []*loadDaemon, bin string, refs []string, fig *loadFigures) {
	for _, d := range daemons {
		d.stop()
		d.setList(b, refs)
	}
	r.Registry.Throttle(64 << 10)
	events := daemonEvents(b, r)
	before := apiCounts(b, r)
	t0 := time.Now()
	for _, d := range daemons {
		d.pulling, d.ready = time.Time{}, time.Time{}
		d.start(b, bin, "--recheck-interval", loadRecheck.String())
	}
	for _, d := range daemons {
		d.waitReady(b, t0)
		fig.pullSeconds += d.ready.Sub(t0).Seconds() / float64(len(daemons))
	}
	counts := apiCounts(b, r).minus(before)
	fig.patches = counts.sum("PATCH", "pods") / float64(len(daemons))
	fig.events = float64(daemonEvents(b, r)-events) / float64(len(daemons))
}

// daemonEvents counts the Events the daemons recorded.
func daemonEvents(b *testing.B, r *rig.Rig) int {
	list, err := r.Client.CoreV1().Events(metav1.NamespaceDefault).List(context.Background(), metav1.ListOptions{FieldSelector: "source=winimage-daemon"})
	if err != nil {
		b.Fatal(err)
	}
	return len(list.Items)
}

// pinnedRef is ref by its digest in the registry.
func pinnedRef(b *testing.B, ref string) string {
	tag, err := name.NewTag(ref)
	if err != nil {
		b.Fatal(err)
	}
	desc, err := remote.Head(tag)
	if err != nil {
		b.Fatal(err)
	}
	return tag.Context().Digest(desc.Digest.String()).String()
}

// loadDaemon is one daemon of the fleet, on its own node and containerd,
// publishing on its own pod.
type loadDaemon struct {
	r                *rig.Rig
	node, pod, dir   string
	c                *rig.Containerd
	refs             []string
	cmd              *exec.Cmd
	pulling, ready   time.Time
	state, imageList string
}

func newLoadDaemon(b *testing.B, r *rig.Rig, i int, node string, c *rig.Containerd, refs []string) *loadDaemon {
	d := &loadDaemon{r: r, node: node, c: c, dir: b.TempDir(), pod: fmt.Sprintf("winimage-daemon-%d", i)}
	d.state, d.imageList = filepath.Join(d.dir, "state.json"), filepath.Join(d.dir, "images.yaml")
	d.setList(b, refs)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: contract.DefaultNamespace, Name: d.pod},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "daemon", Image: "winimage-daemon:bench"}}}}
	if _, err := r.Client.CoreV1().Pods(contract.DefaultNamespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	return d
}

// setList writes the daemon's image list.
func (d *loadDaemon) setList(b *testing.B, refs []string) {
	d.refs = refs
	list := "images:\n"
	for _, ref := range refs {
		list += "- ref: " + ref + "\n"
	}
	if err := os.WriteFile(d.imageList, []byte(list), 0o644); err != nil {
		b.Fatal(err)
	}
}

func (d *loadDaemon) start(b *testing.B, bin string, args ...string) {
	d.cmd = exec.Command(bin, append([]string{"run", "--kubeconfig", d.r.Kubeconfig, "--node-name", d.node, "--pod-name", d.pod,
		"--pod-namespace", contract.DefaultNamespace, "--containerd-address", d.c.Address, "--snapshotter", d.c.Snapshotter,
		"--containerd-root", d.c.Root, "--images", d.imageList, "--state-file", d.state, "--disk-threshold", "0.99"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = nil, nil
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
}

// waitPulling waits until the node's first pull moves: it no longer waits
// for a slot.
func (d *loadDaemon) waitPulling(b *testing.B, t0 time.Time) {
	for d.pulling.IsZero() {
		if p, err := report.ReadState(d.state); err == nil {
			for _, img := range p.Images {
				if (img.State.InProgress() && img.State != contract.Pending && img.Reason == "") || img.State == contract.Ready {
					d.pulling = time.Now()
				}
			}
		}
		d.checkTime(b, t0)
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *loadDaemon) waitReady(b *testing.B, t0 time.Time) {
	for d.ready.IsZero() {
		if p, err := report.ReadState(d.state); err == nil && p.AllReady() && p.Total == len(d.refs) {
			d.ready = time.Now()
		}
		d.checkTime(b, t0)
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *loadDaemon) checkTime(b *testing.B, t0 time.Time) {
	if time.Since(t0) > 10*time.Minute {
		b.Fatalf("%s: not warm after 10 minutes", d.node)
	}
}

func (d *loadDaemon) stop() {
	_ = d.cmd.Process.Signal(os.Interrupt)
	_ = d.cmd.Wait()
}

// requestCounts is apiserver_request_total by verb, resource, code and
// subresource.
type requestCounts map[[4]string]float64

func (c requestCounts) minus(o requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		out[k] = v - o[k]
	}
	return out
}

func (c requestCounts) times(d time.Duration) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		out[k] = v * d.Seconds()
	}
	return out
}

func (c requestCounts) sum(verb, resource string) float64 {
	var n float64
	for k, v := range c {
		if k[0] == verb && k[1] == resource && k[3] == "" {
			n += v
		}
	}
	return max(n, 0)
}

func (c requestCounts) verbCode(verb, resource, code string) float64 {
	var n float64
	for k, v := range c {
		if k[0] == verb && k[1] == resource && k[2] == code && k[3] == "" {
			n += v
		}
	}
	return max(n, 0)
}

func (c requestCounts) code(resource, code string) float64 {
	var n float64
	for k, v := range c {
		if k[1] == resource && k[2] == code {
			n += v
		}
	}
	return max(n, 0)
}

// of lists resource's counts as "VERB code: n".
func (c requestCounts) of(resource string) string {
	var parts []string
	for k, v := range c {
		if k[1] == resource && k[3] == "" && v >= 0.5 {
			parts = append(parts, fmt.Sprintf("%s %s: %.0f", k[0], k[2], v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (c requestCounts) total() float64 {
	var n float64
	for k, v := range c {
		if k[0] != "WATCH" || v > 0 {
			n += v
		}
	}
	return n
}

// rateOver is the API server's request rate per second over d, with no
// daemon running: kwok's heartbeats and the controllers.
func rateOver(b *testing.B, r *rig.Rig, d time.Duration) requestCounts {
	before := apiCounts(b, r)
	time.Sleep(d)
	rate := requestCounts{}
	for k, v := range apiCounts(b, r).minus(before) {
		rate[k] = v / d.Seconds()
	}
	return rate
}

// apiCounts reads apiserver_request_total from the API server's /metrics.
func apiCounts(b *testing.B, r *rig.Rig) requestCounts {
	raw, err := r.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	out := requestCounts{}
	for _, line := range strings.Split(string(raw), "\n") {
		rest, ok := strings.CutPrefix(line, "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		var key [4]string
		for _, kv := range strings.Split(labels, ",") {
			k, val, _ := strings.Cut(kv, "=")
			val = strings.Trim(val, `"`)
			switch k {
			case "verb":
				key[0] = val
			case "resource":
				key[1] = val
			case "code":
				key[2] = val
			case "subresource":
				key[3] = val
			}
		}
		out[key] += v
	}
	return out
}
