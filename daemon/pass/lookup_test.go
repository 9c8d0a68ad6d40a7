package pass

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// A recheck of warm images asks the registry only what could have moved:
// a tag's digest (a HEAD), nothing for a reference by digest, no manifest
// at all unless the tag moved; at most Lookups at once. Images that stay
// warm stay Ready throughout: a recheck publishes nothing new.
func TestARecheckAsksOnlyForTagsDigestsAndStaysReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refs := []string{"r/a:1", "r/b:1", "r/c:1", "r/d:1", "r/e:1", "r/f:1", "r/pinned@sha256:" + strings.Repeat("a", 64)}
		rt := newFakeRuntime()
		planner := &countingPlanner{fakePlanner: fakePlanner{}, plans: map[string]int{}, heads: map[string]int{}}
		for _, ref := range refs {
			planner.fakePlanner[ref] = Plan{Digest: "sha256:" + ref, Size: 1}
		}
		var mu sync.Mutex
		var seen []contract.State
		w := &Warmer{Runtime: rt, Planner: planner, Chains: 2, Lookups: 2}
		w.Run(t.Context(), list(refs...))
		if !w.Snapshot().AllReady() {
			t.Fatalf("first pass: %+v", w.Snapshot())
		}
		firstPass := w.Snapshot()
		planner.plans, planner.heads, planner.top = map[string]int{}, map[string]int{}, 0
		w.Changed = func() {
			mu.Lock()
			defer mu.Unlock()
			for _, img := range w.Snapshot().Images {
				seen = append(seen, img.State)
			}
		}
		w.Run(t.Context(), list(refs...))
		if len(planner.plans) != 0 {
			t.Errorf("the recheck fetched manifests of %v", planner.plans)
		}
		for _, ref := range refs {
			want := 1
			if strings.Contains(ref, "@") {
				want = 0
			}
			if planner.heads[ref] != want {
				t.Errorf("%s: %d digest lookups, want %d", ref, planner.heads[ref], want)
			}
		}
		if planner.top > 2 {
			t.Errorf("%d lookups at once, over Lookups 2", planner.top)
		}
		for _, st := range seen {
			if st != contract.Ready {
				t.Fatalf("a warm image went %s during the recheck", st)
			}
		}
		if after := w.Snapshot(); !reflect.DeepEqual(after, firstPass) {
			t.Errorf("the recheck changed what would be published:\n%+v\n%+v", firstPass, after)
		}
		if len(rt.pulls) != len(refs) {
			t.Errorf("pulls %v: the recheck pulled again", rt.pulls)
		}
	})
}
