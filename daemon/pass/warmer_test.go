package pass

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime/runtimetest"
)

// fakeRuntime is containerd's image state (runtimetest.Store) with a Pull
// that takes pullTime, fails with the errors queued for a reference, and
// records how pulls overlapped.
type fakeRuntime struct {
	*runtimetest.Store
	mu         sync.Mutex
	failures   map[string][]error
	pulls      []string
	pins       []string
	inFlight   map[string]int // by base
	maxPerBase int
	maxOverall int
	active     int
	baseOf     map[string]string
	pullTime   time.Duration
	// baseDone records the bases with a finished pull: a second pull of a
	// base starting before that is a violation.
	baseDone          map[string]bool
	siblingBeforeBase bool
	// late keeps each pull's progress callback, to fire after it returned.
	late []noderuntime.Progress
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{Store: runtimetest.NewStore(), failures: map[string][]error{}, inFlight: map[string]int{}, baseOf: map[string]string{}, baseDone: map[string]bool{}}
}

func (f *fakeRuntime) Pull(ctx context.Context, ref string, opts noderuntime.PullOptions) (noderuntime.ImageStatus, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(int64, int64, bool) {}
	}
	f.mu.Lock()
	f.pulls = append(f.pulls, ref)
	if errs := f.failures[ref]; len(errs) > 0 {
		f.failures[ref] = errs[1:]
		f.mu.Unlock()
		return noderuntime.ImageStatus{}, errs[0]
	}
	f.mu.Unlock()
	if err := f.Start(ctx, ref); err != nil {
		return noderuntime.ImageStatus{}, err
	}
	f.mu.Lock()
	base := f.baseOf[ref]
	if base != "" && !f.baseDone[base] && f.inFlight[base] > 0 {
		f.siblingBeforeBase = true
	}
	f.inFlight[base]++
	f.active++
	f.maxPerBase = max(f.maxPerBase, f.inFlight[base])
	f.maxOverall = max(f.maxOverall, f.active)
	f.mu.Unlock()
	progress(50, 100, false)
	time.Sleep(f.pullTime)
	progress(100, 100, true)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight[base]--
	f.active--
	f.baseDone[base] = true
	f.late = append(f.late, progress)
	return f.Finish(ref, opts), nil
}

// Pin records the call and pins as containerd would.
func (f *fakeRuntime) Pin(ctx context.Context, ref string) error {
	f.mu.Lock()
	f.pins = append(f.pins, ref)
	f.mu.Unlock()
	return f.Store.Pin(ctx, ref)
}

type fakePlanner map[string]Plan

func (p fakePlanner) Plan(_ context.Context, ref string) (Plan, error) {
	if ref == "r/missing:1" || ref == "r/plannerdenied:1" {
		return Plan{}, errors.New("not found (404) in the registry")
	}
	return p[ref], nil
}

func (p fakePlanner) Digest(ctx context.Context, ref string) (string, error) {
	plan, err := p.Plan(ctx, ref)
	return plan.Digest, err
}

// countingPlanner counts what a registry would be asked: a full plan (the
// tag's and the entry's manifests, GET) or a tag's digest (HEAD).
type countingPlanner struct {
	fakePlanner
	mu            sync.Mutex
	plans, heads  map[string]int
	inFlight, top int
}

func (c *countingPlanner) count(m map[string]int, ref string) func() {
	c.mu.Lock()
	m[ref]++
	c.inFlight++
	c.top = max(c.top, c.inFlight)
	c.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	return func() { c.mu.Lock(); c.inFlight--; c.mu.Unlock() }
}

func (c *countingPlanner) Plan(ctx context.Context, ref string) (Plan, error) {
	defer c.count(c.plans, ref)()
	return c.fakePlanner.Plan(ctx, ref)
}

func (c *countingPlanner) Digest(ctx context.Context, ref string) (string, error) {
	defer c.count(c.heads, ref)()
	return c.fakePlanner.Digest(ctx, ref)
}

func list(refs ...string) *imagelist.List {
	l := &imagelist.List{}
	for _, r := range refs {
		l.Images = append(l.Images, imagelist.Image{Ref: r})
	}
	return l
}

func TestRunChainsSharedBasesAndParallelisesIndependentOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newFakeRuntime()
		rt.pullTime = 50 * time.Millisecond
		rt.baseOf = map[string]string{"r/a1:1": "A", "r/a2:1": "A", "r/a3:1": "A", "r/b1:1": "B", "r/b2:1": "B"}
		planner := fakePlanner{}
		for ref, base := range rt.baseOf {
			planner[ref] = Plan{Digest: "sha256:" + ref, Layers: []string{base, ref}, Size: 100}
		}
		w := &Warmer{Runtime: rt, Planner: planner, Chains: 2}
		w.Run(t.Context(), list("r/a1:1", "r/b1:1", "r/a2:1", "r/b2:1", "r/a3:1"))
		// A progress sample arriving after a pull returned must not reopen it.
		for _, p := range rt.late {
			p(1, 100, true)
		}
		snap := w.Snapshot()
		if !snap.AllReady() || snap.Ready != 5 {
			t.Fatalf("snapshot = %+v", snap)
		}
		if rt.siblingBeforeBase {
			t.Error("an image started before the first image of its base had finished")
		}
		if rt.maxOverall != 2 {
			t.Errorf("at most %d pulls ran at once; want 2 (the limit)", rt.maxOverall)
		}
		for _, img := range snap.Images {
			if img.BytesDone != img.BytesTotal || img.Digest == "" {
				t.Errorf("%+v", img)
			}
		}
	})
}

func TestRunSkipsWarmImagesPinsThemAndFailsPermanentErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newFakeRuntime()
		rt.Put("r/warm:1", noderuntime.ImageStatus{Present: true, Complete: true, Unpacked: true, Digest: "sha256:w"})
		rt.Put("r/stale:1", noderuntime.ImageStatus{Present: true, Complete: true, Unpacked: true, Digest: "sha256:old"})
		rt.failures = map[string][]error{
			"r/flaky:1":   {errors.New("dial tcp 127.0.0.1:5000: connect: connection refused"), errors.New("unexpected EOF")},
			"r/denied:1":  {errors.New("pull: 401 Unauthorized")},
			"r/missing:1": {errors.New("pull: 404 Not Found")},
		}
		planner := fakePlanner{"r/warm:1": {Digest: "sha256:w"}, "r/stale:1": {Digest: "sha256:new"}}
		w := &Warmer{Runtime: rt, Planner: planner, Chains: 2, MinBackoff: time.Millisecond}
		w.Run(t.Context(), list("r/warm:1", "r/stale:1", "r/flaky:1", "r/denied:1", "r/missing:1", "r/plannerdenied:1"))
		got := map[string]contract.ImageState{}
		for _, s := range w.Snapshot().Images {
			got[s.Ref] = s
		}
		if got["r/warm:1"].State != contract.Ready || len(rt.pins) != 1 || rt.pins[0] != "r/warm:1" {
			t.Errorf("warm image: %+v, pins %v; want contract.Ready without a pull, pinned", got["r/warm:1"], rt.pins)
		}
		if got["r/stale:1"].State != contract.Ready || got["r/stale:1"].Digest != "sha256:r/stale:1" {
			t.Errorf("a tag that moved must be pulled again: %+v", got["r/stale:1"])
		}
		if s := got["r/flaky:1"]; s.State != contract.Ready || s.Attempts != 2 {
			t.Errorf("flaky: %+v, want contract.Ready after 2 failed attempts", s)
		}
		if s := got["r/denied:1"]; s.State != contract.Failed || s.Reason != "pull: 401 Unauthorized" || s.Attempts != 1 {
			t.Errorf("denied: %+v", s)
		}
		// A registry that refuses the planner does not decide alone:
		// containerd tries once, and its answer stands.
		if s := got["r/missing:1"]; s.State != contract.Failed || s.Reason != "not found (404) in the registry" || s.Attempts != 1 {
			t.Errorf("missing: %+v", s)
		}
		if s := got["r/plannerdenied:1"]; s.State != contract.Ready {
			t.Errorf("refused the planner, pulled by containerd: %+v", s)
		}
		for _, p := range rt.pulls {
			if p == "r/warm:1" {
				t.Errorf("pulled %s", p)
			}
		}
		if w.Snapshot().AllReady() {
			t.Error("AllReady with failures")
		}
	})
}

func TestGuardSkipsImagesThatWouldOverfillTheDisk(t *testing.T) {
	rt := newFakeRuntime()
	rt.HoldLayers("sha256:base")
	var mu sync.Mutex
	asked := map[int64]bool{}
	planner := fakePlanner{
		"r/big:1":   {Size: 10 << 30, Layers: []string{"sha256:big"}, LayerSizes: []int64{10 << 30}},
		"r/small:1": {Size: 1 << 20, Layers: []string{"sha256:small"}, LayerSizes: []int64{1 << 20}},
		// Its 8 GiB base is on the node already: only 2 MiB are missing.
		"r/onbase:1": {Size: 8<<30 + 2<<20, Layers: []string{"sha256:base", "sha256:top"}, LayerSizes: []int64{8 << 30, 2 << 20}},
	}
	w := &Warmer{Runtime: rt, Planner: planner, Chains: 1,
		Guard: func(size int64) (func(), error) {
			mu.Lock()
			asked[size] = true
			mu.Unlock()
			if size > 1<<30 {
				return nil, errors.New("would use 91% of the disk, above 80%")
			}
			return func() {}, nil
		}}
	w.Run(t.Context(), list("r/big:1", "r/small:1", "r/onbase:1", "r/missing:1"))
	for _, s := range w.Snapshot().Images {
		want := map[string]contract.State{"r/big:1": contract.Skipped, "r/small:1": contract.Ready, "r/onbase:1": contract.Ready, "r/missing:1": contract.Ready}[s.Ref]
		if s.State != want {
			t.Errorf("%s: %s (%s), want %s", s.Ref, s.State, s.Reason, want)
		}
	}
	// The image the planner could not size was still checked.
	if !asked[2<<20] || !asked[0] {
		t.Errorf("guard asked for %v; want the missing 2 MiB of r/onbase:1 and 0 for the unplanned r/missing:1", asked)
	}
}
