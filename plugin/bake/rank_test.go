package bake

import (
	"strings"
	"testing"
	"time"
)

func cand(ref string, starts int, layers ...layer) Candidate {
	return Candidate{Ref: ref, Starts: starts, layers: layers}
}

func TestChooseCountsSharedLayersOnceAndSkipsTheAMI(t *testing.T) {
	base := layer{"sha256:base", 1000}  // servercore: on the AMI
	netfx := layer{"sha256:netfx", 300} // shared by web and cart
	web := cand("web", 10, base, netfx, layer{"sha256:web", 50})
	cart := cand("cart", 4, base, netfx, layer{"sha256:cart", 20})
	batch := cand("batch", 4, base, layer{"sha256:batch", 500})
	sc := cand("servercore", 30, base)
	rare := cand("rare", 0, layer{"sha256:rare", 10})
	got := choose([]Candidate{cart, batch, sc, rare, web}, map[string]bool{"sha256:base": true}, Limits{MaxBytes: 1 << 30, MinPods: 1})
	byRef := map[string]Candidate{}
	for _, c := range got {
		byRef[c.Ref] = c
	}
	if c := byRef["web"]; !c.Chosen || c.Rank != 1 || c.ColdBytes != 350 || c.Benefit != 3500 {
		t.Errorf("web: %+v", c)
	}
	// cart and batch tie on starts; batch has the larger benefit (500×4)
	// once web brought netfx (cart: 20×4).
	if c := byRef["batch"]; c.Rank != 2 || c.ColdBytes != 500 {
		t.Errorf("batch: %+v", c)
	}
	if c := byRef["cart"]; c.Rank != 3 || c.ColdBytes != 20 {
		t.Errorf("cart: shared netfx must count once: %+v", c)
	}
	if c := byRef["servercore"]; c.Chosen || !strings.Contains(c.Reason, "already on the base AMI") {
		t.Errorf("servercore: %+v", c)
	}
	if c := byRef["rare"]; c.Chosen || !strings.Contains(c.Reason, "below --min-pods 1") {
		t.Errorf("rare: %+v", c)
	}
	if got[0].Ref != "web" || got[1].Ref != "batch" || got[2].Ref != "cart" {
		t.Errorf("order: %s %s %s", got[0].Ref, got[1].Ref, got[2].Ref)
	}
}

func TestChooseKeepsToTheBudgetAndTop(t *testing.T) {
	big := cand("big", 9, layer{"sha256:big", 800})
	mid := cand("mid", 5, layer{"sha256:mid", 300})
	small := cand("small", 3, layer{"sha256:small", 100})
	tiny := cand("tiny", 2, layer{"sha256:tiny", 10})
	got := choose([]Candidate{big, mid, small, tiny}, nil, Limits{MaxBytes: 1000, MinPods: 1, Top: 2})
	chosen := map[string]string{}
	for _, c := range got {
		chosen[c.Ref] = c.Reason
	}
	if !strings.Contains(chosen["mid"], "over the budget") {
		t.Errorf("mid should not fit after big: %q", chosen["mid"])
	}
	if !strings.Contains(chosen["tiny"], "beyond --top 2") {
		t.Errorf("tiny: %q", chosen["tiny"])
	}
	if got[0].Ref != "big" || got[1].Ref != "small" || !got[1].Chosen {
		t.Errorf("chosen: %+v", got[:2])
	}
}

// Observed pull times weigh the choice: web starts more often, but legacy's
// pulls (a slow registry, a big .NET layer) cost far more per byte, so with
// room for one the AMI gets legacy. Images never seen pulled take the
// build's mean cost per byte.
func TestChooseWeighsByObservedPullTime(t *testing.T) {
	web := cand("web", 4, layer{"sha256:web", 100})
	web.Bytes, web.Pulls, web.ObservedPull = 100, 4, 10*time.Second
	legacy := cand("legacy", 2, layer{"sha256:legacy", 100})
	legacy.Bytes, legacy.Pulls, legacy.ObservedPull = 100, 2, 120*time.Second
	unseen := cand("unseen", 3, layer{"sha256:unseen", 100})
	unseen.Bytes = 100
	got := choose([]Candidate{web, legacy, unseen}, nil, Limits{MaxBytes: 100, MinPods: 1})
	if !got[0].Chosen || got[0].Ref != "legacy" || !strings.Contains(got[0].Reason, "pulls took 2m0s on average") {
		t.Fatalf("chosen: %+v", got[0])
	}
	// Mean over observed pulls: (4×10 s + 2×120 s) / (6×100 B) ≈ 0.467 s/B;
	// unseen: 3 × 0.467 = 1.4 per byte, above web's 4 × 0.1.
	if got[1].Ref != "unseen" || got[2].Ref != "web" {
		t.Errorf("order of the rest: %s, %s", got[1].Ref, got[2].Ref)
	}
	if want := 100 * 2 * 1.2; got[0].Benefit != want {
		t.Errorf("legacy benefit = %v, want %v pull seconds saved", got[0].Benefit, want)
	}
}

// A node pulls only the layers its AMI lacks, so a pull time is the time
// of those bytes: app's 100 s moved 200 B of its own (its 800 B of
// servercore came with the AMI), tool's 100 s moved all its 200 B. Both
// cost the same per byte and save the same time; a cost per byte over
// whole images made app's bytes look four times cheaper.
func TestObservedPullTimeIsPerByteNotOnTheAMI(t *testing.T) {
	base := layer{"sha256:servercore", 800}
	app := cand("app", 1, base, layer{"sha256:app", 200})
	app.Bytes, app.Pulls, app.ObservedPull = 1000, 1, 100*time.Second
	tool := cand("tool", 1, layer{"sha256:tool", 200})
	tool.Bytes, tool.Pulls, tool.ObservedPull = 200, 1, 100*time.Second
	got := choose([]Candidate{app, tool}, map[string]bool{base.digest: true}, Limits{MaxBytes: 1000, MinPods: 1})
	for _, c := range got {
		if c.Benefit != 100 {
			t.Errorf("%s: benefit %v, want the 100 pull seconds it saves", c.Ref, c.Benefit)
		}
	}
}
