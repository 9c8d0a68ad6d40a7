// Package startup measures how long Windows nodes and pods really take to
// start, from the timestamps kubelet writes on nodes and pods and from its
// image events, and splits the figures before and after a warm list or a
// baked AMI came into use.
package startup

import (
	"sort"
	"time"
)

// Durations summarises a set of measured durations.
type Durations struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50"`
	P95   time.Duration `json:"p95"`
	Max   time.Duration `json:"max"`
}

// summarize uses the nearest-rank percentile: the p-th percentile of n
// sorted values is the value at rank ceil(p/100 × n), so every figure is
// one that was observed, never an interpolation between two.
func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return Durations{Count: len(s), P50: nearestRank(s, 50), P95: nearestRank(s, 95), Max: s[len(s)-1]}
}

func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p × n / 100)
	return sorted[max(rank, 1)-1]
}
