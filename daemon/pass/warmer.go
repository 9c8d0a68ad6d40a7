package pass

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
)

// Plan is what the registry says an image is for this node.
type Plan struct {
	// Digest the reference resolves to.
	Digest string
	// Layers of the entry for the node's platform, base first, and their
	// sizes.
	Layers     []string
	LayerSizes []int64
	Size       int64
}

// Planner looks images up before pulling.
type Planner interface {
	// Plan is what the registry says the image is for this node (for a
	// tag: its manifest and the entry's, GETs).
	Plan(ctx context.Context, ref string) (Plan, error)
	// Digest is the digest a tag names now (a HEAD): all a recheck of a
	// warm image needs to know.
	Digest(ctx context.Context, ref string) (string, error)
}

// Warmer warms a list of images into the runtime.
type Warmer struct {
	Runtime noderuntime.Runtime
	Planner Planner
	// Chains is how many pulls run at once.
	Chains int
	// Lookups is how many registry lookups run at once (0: 4).
	Lookups int
	// Guard, if set, refuses an image whose pull would overfill the disk
	// (size: the compressed bytes still to fetch, 0 when unknown) and
	// otherwise reserves its room until release.
	Guard func(size int64) (release func(), err error)
	// Backoff between attempts after a transient failure, doubling from
	// MinBackoff (1 s) to MaxBackoff (30 s), each wait jittered.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts bounds the attempts at an image in one pass (0: 8, about
	// 1.5 minutes of backoff); the image is then Failed until the next
	// recheck, so a registry serving bad bytes is not hammered for ever.
	MaxAttempts int
	// StallTimeout cancels an attempt whose download has not moved for
	// this long (0: 5 minutes, CRI's image_pull_progress_timeout).
	StallTimeout time.Duration
	// Changed is called (without locks held) after any state change.
	Changed func()
	// Slot, if set, is held while any pull of the node runs: cluster-wide
	// pacing of nodes pulling at once. It is given back as soon as no pull
	// runs (between images too), so a node never holds it while it plans,
	// backs off or rechecks.
	Slot func(ctx context.Context) (release func(), err error)
	// SlotsIdle, if set, is called when a run ends: no pull until the next.
	SlotsIdle func()

	mu     sync.Mutex
	states map[string]*contract.ImageState

	slotMu      sync.Mutex
	slotUsers   int
	slotRelease func()

	// nodeMoved is when any pull last moved (see stallWatch).
	nodeMoved atomic.Int64
}

// Defaults of Warmer.MaxAttempts and MinBackoff.
const (
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = time.Second
)

// jittered spreads retries of many nodes that failed together ("equal
// jitter": half the backoff, plus up to the other half at random), so a
// registry that came back is not met by every node at the same instant.
func jittered(backoff time.Duration) time.Duration {
	return backoff/2 + rand.N(backoff/2+1)
}

// Snapshot returns the current states.
func (w *Warmer) Snapshot() contract.Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return snapshotOf(w.states)
}

func (w *Warmer) set(ref string, f func(*contract.ImageState)) {
	w.mu.Lock()
	st := w.states[ref]
	f(st)
	st.Updated = time.Now()
	w.mu.Unlock()
	if w.Changed != nil {
		w.Changed()
	}
}

// isState reports whether ref's state is already state at digest for
// reason.
func (w *Warmer) isState(ref string, state contract.State, digest, reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.states[ref]
	return st != nil && st.State == state && st.Digest == digest && st.Reason == reason
}

// Run warms every image of list and returns when each is Ready, Failed or
// Skipped, or ctx ends. Of the images that share a base layer, one pulls
// first (the base is fetched and unpacked once, and no two pulls fight over
// one ingest); then the rest, alongside other chains, up to Chains pulls.
func (w *Warmer) Run(ctx context.Context, list *imagelist.List) {
	w.mu.Lock()
	previous := w.states
	w.states = map[string]*contract.ImageState{}
	for _, img := range list.Images {
		st := &contract.ImageState{Ref: img.Ref, State: contract.Pending, Updated: time.Now()}
		// An image warm after the last pass stays Ready while it is
		// checked again: a recheck that finds it so changes nothing anyone
		// sees, and publishes nothing.
		if old := previous[img.Ref]; old != nil && old.State == contract.Ready {
			st = &contract.ImageState{Ref: img.Ref, State: contract.Ready, Digest: old.Digest, BytesDone: old.BytesDone, BytesTotal: old.BytesTotal, Updated: old.Updated}
		}
		w.states[img.Ref] = st
	}
	w.mu.Unlock()
	if w.Changed != nil {
		w.Changed()
	}

	if w.SlotsIdle != nil {
		defer w.SlotsIdle()
	}
	plans := map[string]Plan{}
	planErrs := map[string]error{}
	var pmu sync.Mutex
	var wg sync.WaitGroup
	n := w.Lookups
	if n <= 0 {
		n = defaultLookups
	}
	lookups := make(chan struct{}, n)
	for _, img := range list.Images {
		if img.Invalid != "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case lookups <- struct{}{}:
			case <-ctx.Done():
				return
			}
			p, err := w.lookup(ctx, img.Ref)
			<-lookups
			pmu.Lock()
			plans[img.Ref], planErrs[img.Ref] = p, err
			pmu.Unlock()
		}()
	}
	wg.Wait()

	chains := chainsOf(list.Images, plans)
	limit := w.Chains
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	for _, chain := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The first image brings the shared base; once it is in, the
			// others only add their own layers and may pull side by side.
			w.warmOne(ctx, chain[0], plans[chain[0].Ref], planErrs[chain[0].Ref], sem)
			var siblings sync.WaitGroup
			for _, img := range chain[1:] {
				siblings.Add(1)
				go func() {
					defer siblings.Done()
					w.warmOne(ctx, img, plans[img.Ref], planErrs[img.Ref], sem)
				}()
			}
			siblings.Wait()
		}()
	}
	wg.Wait()
}

// chainsOf groups images by their first (base) layer; images whose plan
// failed go alone. Chains are ordered largest first so the longest work
// starts early.
func chainsOf(imgs []imagelist.Image, plans map[string]Plan) [][]imagelist.Image {
	byBase := map[string][]imagelist.Image{}
	var keys []string
	for _, img := range imgs {
		key := "solo:" + img.Ref
		if p := plans[img.Ref]; len(p.Layers) > 0 {
			key = "base:" + p.Layers[0]
		}
		if _, ok := byBase[key]; !ok {
			keys = append(keys, key)
		}
		byBase[key] = append(byBase[key], img)
	}
	size := func(key string) int64 {
		var n int64
		for _, img := range byBase[key] {
			n += plans[img.Ref].Size
		}
		return n
	}
	sort.SliceStable(keys, func(i, j int) bool { return size(keys[i]) > size(keys[j]) })
	out := make([][]imagelist.Image, 0, len(keys))
	for _, k := range keys {
		out = append(out, byBase[k])
	}
	return out
}

func (w *Warmer) warmOne(ctx context.Context, img imagelist.Image, plan Plan, planErr error, sem chan struct{}) {
	if img.Invalid != "" {
		w.set(img.Ref, func(s *contract.ImageState) { s.State, s.Reason = contract.Failed, img.Invalid })
		return
	}
	backoff := w.MinBackoff
	if backoff <= 0 {
		backoff = DefaultMinBackoff
	}
	maxBackoff := w.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 30 * time.Second
	}
	maxAttempts := w.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	refused := planErr != nil && registryRefused(planErr)
	if planErr != nil && noderuntime.Permanent(planErr) && !refused {
		w.set(img.Ref, func(s *contract.ImageState) { s.State, s.Reason = contract.Failed, planErr.Error() })
		return
	}
	if refused {
		// The registry refused the planner (401, 403, 404). containerd,
		// with the node's hosts and kubelet's credentials, has the last
		// word, once; if it is refused too, the registry's own answer to
		// the planner says why most plainly.
		maxAttempts = 1
	}
	for attempt := 1; ; attempt++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		err := w.attempt(ctx, img, plan, planErr)
		<-sem
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if permanent := noderuntime.Permanent(err); permanent || attempt >= maxAttempts {
			reason := noderuntime.Describe(err)
			switch {
			case refused:
				reason = planErr.Error()
			case !permanent:
				reason = fmt.Sprintf("gave up after %d attempts: %s", attempt, reason)
			}
			w.set(img.Ref, func(s *contract.ImageState) { s.State, s.Reason, s.Attempts = contract.Failed, reason, attempt })
			return
		}
		wait := jittered(backoff)
		w.set(img.Ref, func(s *contract.ImageState) {
			s.State, s.Attempts = contract.Pulling, attempt
			s.Reason = fmt.Sprintf("attempt %d failed, retrying in %s: %s", attempt, wait.Round(time.Millisecond), noderuntime.Describe(err))
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, maxBackoff)
		// A registry that was down while planning may be back.
		if planErr != nil {
			plan, planErr = w.Planner.Plan(ctx, img.Ref)
		}
	}
}

// attempt makes one try: nothing to do if the image is already warm at the
// digest the registry names (or the registry cannot say), else pull.
func (w *Warmer) attempt(ctx context.Context, img imagelist.Image, plan Plan, planErr error) error {
	st, err := w.Runtime.Status(ctx, img.Ref)
	if err != nil {
		return err
	}
	if st.Warm() && (planErr != nil || plan.Digest == "" || plan.Digest == st.Digest) {
		if img.Pinned() && !st.Pinned {
			if err := w.Runtime.Pin(ctx, img.Ref); err != nil {
				return err
			}
		}
		reason := ""
		if planErr != nil {
			reason = "present; the registry could not be asked for a newer digest: " + planErr.Error()
		}
		// Found as it was: nothing changed, nothing to publish.
		if w.isState(img.Ref, contract.Ready, st.Digest, reason) {
			return nil
		}
		w.set(img.Ref, func(s *contract.ImageState) { s.State, s.Digest, s.Reason = contract.Ready, st.Digest, reason })
		return nil
	}
	if w.Guard != nil {
		release, err := w.reserveDisk(ctx, plan)
		if err != nil {
			w.set(img.Ref, func(s *contract.ImageState) { s.State, s.Reason = contract.Skipped, err.Error() })
			return nil
		}
		defer release()
	}
	if w.Slot != nil {
		release, err := w.holdSlot(ctx, img.Ref)
		if err != nil {
			return err
		}
		defer release()
	}
	w.set(img.Ref, func(s *contract.ImageState) { s.State, s.BytesTotal, s.Reason = contract.Pulling, plan.Size, "" })
	layers := make(map[string]int64, len(plan.Layers))
	for i, d := range plan.Layers {
		if i < len(plan.LayerSizes) {
			layers[d] = plan.LayerSizes[i]
		}
	}
	timeout := w.StallTimeout
	if timeout <= 0 {
		timeout = DefaultStallTimeout
	}
	pullCtx, stall, stop := watchStalls(ctx, timeout, &w.nodeMoved)
	defer stop()
	st, err = w.Runtime.Pull(pullCtx, img.Ref, noderuntime.PullOptions{Pin: img.Pinned(), Layers: layers, Target: plan.Digest, Progress: func(done, total int64, unpacking bool) {
		stall.observe(done, unpacking)
		w.set(img.Ref, func(s *contract.ImageState) {
			if s.State != contract.Pulling && s.State != contract.Unpacking {
				return // a finished image's state is final
			}
			s.BytesDone, s.BytesTotal = done, max(total, s.BytesTotal)
			if unpacking {
				s.State = contract.Unpacking
			}
		})
	}})
	if err != nil {
		return stall.explain(pullCtx, err)
	}
	w.set(img.Ref, func(s *contract.ImageState) {
		s.State, s.Digest, s.Reason = contract.Ready, st.Digest, ""
		s.BytesDone = s.BytesTotal
	})
	return nil
}
