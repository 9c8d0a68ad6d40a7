package bake

import (
	"fmt"
	"sort"
	"time"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
)

// Candidate is one image used on nodes of a Windows build.
type Candidate struct {
	Ref string `json:"ref"`
	// Pinned is the reference by index digest that the component pulls.
	Pinned string `json:"pinned,omitempty"`
	// Digest is the index (or manifest) digest the tag resolved to; Entry
	// the platform manifest chosen for the build.
	Digest string `json:"digest,omitempty"`
	Entry  string `json:"entry,omitempty"`
	// Pods running it on nodes of the build now; Pulls observed there
	// (kubelet Pulled events). Starts = Pods + Pulls.
	Pods   int `json:"pods"`
	Pulls  int `json:"pulls"`
	Starts int `json:"starts"`
	// Bytes is the compressed size of the build's entry; ColdBytes what a
	// new node would pull for it: layers neither on the base AMI nor in an
	// image chosen before it (shared layers count once).
	Bytes     int64 `json:"bytes"`
	ColdBytes int64 `json:"coldBytes"`
	// ObservedPull is the mean pull time kubelet reported for it on the
	// build's nodes (Pulled events), 0 when none was seen.
	ObservedPull time.Duration `json:"observedPull,omitempty"`
	// Benefit is ColdBytes × Starts, weighed by the pull seconds per byte
	// observed on the build when kubelet events show any: the pull time new
	// nodes save (in bytes when no pull was observed).
	Benefit float64 `json:"benefit"`
	Chosen  bool    `json:"chosen"`
	// Rank is the order of choice (1 first); 0 when left out.
	Rank   int    `json:"rank,omitempty"`
	Reason string `json:"reason"`

	layers []layer
	// overBudget: left out for the disk budget alone.
	overBudget bool
	// perByte is the pull cost of one cold byte: observed seconds per
	// byte, the build's mean for images never seen pulled, 1 when no pull
	// was seen on the build at all.
	perByte float64
}

type layer struct {
	digest string
	size   int64
}

// Limits bound the choice.
type Limits struct {
	// MaxBytes is the disk budget, in compressed bytes of chosen layers;
	// in Options, --max-bytes (0: derived per build from its nodes' disk).
	MaxBytes int64
	// Top is the most images to choose (0: no limit).
	Top int
	// MinPods is the fewest pod starts (running pods plus kubelet pulls) an
	// image needs to be chosen (--min-pods).
	MinPods int
}

// choose picks greedily, each round taking the image with the most starts
// (the benefit per cold byte), the larger benefit first on a tie, that
// still fits the budget. Cold bytes shrink as shared layers are chosen.
// Images left out say why.
func choose(cands []Candidate, onAMI map[string]bool, lim Limits) []Candidate {
	weighByObservedPulls(cands, onAMI)
	have := map[string]bool{}
	for d := range onAMI {
		have[d] = true
	}
	open := openCandidates(cands, have, lim)
	var used int64
	rank := 0
	for len(open) > 0 {
		best := -1
		for i := range open {
			c := &cands[i]
			c.ColdBytes = coldBytes(c, have)
			c.Benefit = float64(c.ColdBytes) * c.weight()
			if best < 0 || better(c, &cands[best]) {
				best = i
			}
		}
		c := &cands[best]
		delete(open, best)
		if lim.Top > 0 && rank == lim.Top {
			c.Reason = fmt.Sprintf("beyond --top %d", lim.Top)
			continue
		}
		if used+c.ColdBytes > lim.MaxBytes {
			left := "nothing"
			if lim.MaxBytes > used {
				left = human(lim.MaxBytes - used)
			}
			c.Reason = fmt.Sprintf("over the budget: needs %s cold, %s of %s left", human(c.ColdBytes), left, human(lim.MaxBytes))
			c.overBudget = true
			continue
		}
		rank++
		used += c.ColdBytes
		c.Chosen, c.Rank = true, rank
		c.Reason = fmt.Sprintf("%s × %s cold", starts(c.Starts), human(c.ColdBytes))
		if c.ColdBytes == 0 {
			c.Reason = starts(c.Starts) + "; its layers come with images chosen before it"
		}
		if c.ObservedPull > 0 {
			c.Reason += fmt.Sprintf("; pulls took %s on average", c.ObservedPull.Round(time.Second))
		}
		for _, l := range c.layers {
			have[l.digest] = true
		}
	}
	sortByRank(cands)
	return cands
}

// coldBytes are c's layer bytes not in have, each layer counted once.
func coldBytes(c *Candidate, have map[string]bool) int64 {
	var n int64
	seen := map[string]bool{}
	for _, l := range c.layers {
		if !have[l.digest] && !seen[l.digest] {
			seen[l.digest] = true
			n += l.size
		}
	}
	return n
}

// openCandidates measures every candidate against the base AMI and returns
// the indexes of those still in the running.
func openCandidates(cands []Candidate, have map[string]bool, lim Limits) map[int]bool {
	open := map[int]bool{}
	for i := range cands {
		c := &cands[i]
		c.ColdBytes = coldBytes(c, have)
		c.Benefit = float64(c.ColdBytes) * c.weight()
		switch {
		case c.Reason != "":
			// Already excluded (lookup error, no entry for the build).
		case len(c.layers) > 0 && c.ColdBytes == 0:
			c.Reason = "already on the base AMI: every layer is cached there"
		case c.Starts < lim.MinPods:
			c.Reason = fmt.Sprintf("%s, below --min-pods %d", starts(c.Starts), lim.MinPods)
		default:
			open[i] = true
		}
	}
	return open
}

// sortByRank puts the chosen first in rank order, then the rest by
// benefit.
func sortByRank(cands []Candidate) {
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := &cands[i], &cands[j]
		if a.Chosen != b.Chosen {
			return a.Chosen
		}
		if a.Chosen {
			return a.Rank < b.Rank
		}
		if a.Benefit != b.Benefit {
			return a.Benefit > b.Benefit
		}
		return a.Ref < b.Ref
	})
}

// better orders candidates for the next pick: benefit per cold byte is the
// number of starts times the pull cost of a byte; then the larger benefit;
// then the name, for a stable plan.
func better(a, b *Candidate) bool {
	if a.weight() != b.weight() {
		return a.weight() > b.weight()
	}
	if a.Benefit != b.Benefit {
		return a.Benefit > b.Benefit
	}
	return a.Ref < b.Ref
}

// human is the audit's byte format, so both commands read alike.
var human = audit.HumanBytes

func starts(n int) string {
	if n == 1 {
		return "1 pod start"
	}
	return fmt.Sprintf("%d pod starts", n)
}

// weight is the benefit of one cold byte.
func (c *Candidate) weight() float64 {
	return float64(c.Starts) * c.perByte
}

// weighByObservedPulls sets each candidate's pull cost per byte from the
// pull times kubelet reported on the build: the audit's startup section
// shows pulls, not bytes, are what pods wait on, and a registry or image
// that pulls slowly per byte gains more from the AMI. A node pulls only the
// layers its AMI lacks, so a pull time is divided by those bytes, not the
// whole image's. Images never seen pulled take the build's mean; with no
// pull seen at all every byte costs the same and the plan ranks by bytes.
func weighByObservedPulls(cands []Candidate, onAMI map[string]bool) {
	var seconds, bytes float64
	pulled := make([]int64, len(cands))
	for i := range cands {
		c := &cands[i]
		pulled[i] = c.Bytes
		if len(c.layers) > 0 {
			pulled[i] = coldBytes(c, onAMI)
		}
		if c.ObservedPull > 0 && pulled[i] > 0 {
			seconds += c.ObservedPull.Seconds() * float64(c.Pulls)
			bytes += float64(pulled[i]) * float64(c.Pulls)
		}
	}
	mean := 1.0
	if bytes > 0 {
		mean = seconds / bytes
	}
	for i := range cands {
		c := &cands[i]
		c.perByte = mean
		if c.ObservedPull > 0 && pulled[i] > 0 {
			c.perByte = c.ObservedPull.Seconds() / float64(pulled[i])
		}
	}
}
