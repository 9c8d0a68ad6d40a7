//go:build linux

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// pullStage names a part of a pull by the packages whose frames it owns.
// A CPU sample counts for the stage of its leaf-most frame that matches
// one, so decompression read through the tar reader counts as decompress,
// not apply.
type pullStage struct {
	name    string
	matches *regexp.Regexp
}

// pullStages are the parts of a containerd v2.4.2 pull, named by the
// packages that do them (read at that version: core/remotes/docker for the
// registry fetch, plugins/content/local for the content store,
// pkg/archive/compression for gzip, pkg/archive and core/diff for applying
// a layer, plugins/snapshots/native and continuity/fs for the native
// snapshotter's copy of each parent, which the windows snapshotter does
// not make).
var pullStages = []pullStage{
	{"decompress (gzip)", regexp.MustCompile(`^(compress/(gzip|flate)|github\.com/klauspost/compress|github\.com/containerd/containerd/v2/pkg/archive/compression)`)},
	{"digest (sha256)", regexp.MustCompile(`^crypto/(sha256|internal/fips140/sha256)`)},
	{"snapshot copy (native only)", regexp.MustCompile(`^(github\.com/containerd/continuity/fs\.|github\.com/containerd/containerd/v2/plugins/snapshots/native)`)},
	{"apply (tar to files)", regexp.MustCompile(`^(archive/tar|github\.com/containerd/containerd/v2/(pkg/archive|core/diff|core/unpack|core/mount|plugins/diff))`)},
	{"download (registry, content store)", regexp.MustCompile(`^(net/http|net\.|crypto/tls|github\.com/containerd/containerd/v2/(core/remotes|plugins/content|core/content|core/transfer))`)},
	{"API, metadata, events", regexp.MustCompile(`^(google\.golang\.org/grpc|go\.etcd\.io/bbolt|github\.com/containerd/containerd/v2/(core/metadata|core/events|plugins/services))`)},
	{"Go runtime (GC, scheduler)", regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge|mcall|morestack|schedule|findRunnable|systemstack)`)},
}

// profileDaemonWarm runs the daemon's warm once more into a fresh
// containerd while taking that containerd's CPU profile, and prints where
// its CPU went by stage, against the warm's wall time.
func (w *windowsWarm) profileDaemonWarm() {
	c := w.fresh("profile")
	defer done(c)
	window := median(w.times["daemon"]) + 2*time.Second
	type result struct {
		data []byte
		err  error
	}
	profiled := make(chan result, 1)
	go func() {
		data, err := c.CPUProfile(context.Background(), window)
		profiled <- result{data, err}
	}()
	time.Sleep(100 * time.Millisecond) // the profile starts before the warm
	t0 := time.Now()
	runDaemon(w.b, w.r, w.daemonBin, c, w.node, w.refs)
	wall := time.Since(t0)
	p := <-profiled
	if p.err != nil {
		w.b.Logf("no containerd profile: %v", p.err)
		return
	}
	if err := os.MkdirAll(*profileDir, 0o755); err != nil {
		w.b.Fatal(err)
	}
	path := filepath.Join(*profileDir, "containerd-windows-warm.pprof")
	if err := os.WriteFile(path, p.data, 0o644); err != nil {
		w.b.Fatal(err)
	}
	w.printStages(path, wall)
}

// printStages reads the profile's stacks with `go tool pprof -traces` and
// sums each sample into its stage.
func (w *windowsWarm) printStages(path string, wall time.Duration) {
	out, err := exec.Command("go", "tool", "pprof", "-traces", w.r.Binaries.Containerd, path).CombinedOutput()
	if err != nil {
		w.b.Logf("go tool pprof -traces %s: %v\n%s", path, err, out)
		return
	}
	byStage, total := stageTimes(string(out))
	fmt.Printf("  containerd CPU during the daemon's warm (%s, wall %s): %s CPU, %.0f%% of one core\n",
		path, wall.Round(time.Millisecond), total.Round(time.Millisecond), 100*total.Seconds()/wall.Seconds())
	for _, s := range append(pullStages, pullStage{name: "other"}) {
		if d := byStage[s.name]; d > 0 {
			fmt.Printf("    %-36s %8s  %3.0f%%\n", s.name, d.Round(time.Millisecond), 100*d.Seconds()/total.Seconds())
		}
	}
}

// stageTimes parses `go tool pprof -traces` output: a header, then samples
// between dashed lines, each a value beside its leaf frame and the callers
// below it.
func stageTimes(traces string) (map[string]time.Duration, time.Duration) {
	byStage := map[string]time.Duration{}
	var total time.Duration
	for _, sample := range strings.Split(traces, "-----------+-------------------------------------------------------")[1:] {
		var value time.Duration
		var frames []string
		for _, line := range strings.Split(sample, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			if d, err := time.ParseDuration(fields[0]); err == nil && value == 0 && len(frames) == 0 {
				value, fields = d, fields[1:]
			}
			if len(fields) > 0 {
				frames = append(frames, fields[0])
			}
		}
		total += value
		byStage[stageOf(frames)] += value
	}
	return byStage, total
}

func stageOf(frames []string) string {
	for _, f := range frames {
		for _, s := range pullStages {
			if s.matches.MatchString(f) {
				return s.name
			}
		}
	}
	return "other"
}
