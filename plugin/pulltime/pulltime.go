// Package pulltime reads kubelet Pulled events and summarises how long
// image pulls really took, per image.
package pulltime

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// kubelet (pkg/kubelet/images/image_manager.go): `Successfully pulled image
// "X" in 8m2.3s (8m2.3s including waiting). Image size: N bytes.` (the size
// since 1.30, the waiting part since 1.26); before 1.26 only `Successfully
// pulled image "X" in 49.657983991s`.
var pulledRE = regexp.MustCompile(`^Successfully pulled image "([^"]+)" in ([0-9.a-zµ]+)(?: \(([0-9.a-zµ]+) including waiting\))?(?:\. Image size: (\d+) bytes\.)?`)

// presentRE matches kubelet's message for an image it did not pull
// (k8s.io/kubernetes v1.37.2 pkg/kubelet/images/image_manager.go: `Container
// image "X" already present on machine`, with " and can be accessed by the
// pod" when it checked the pod's credentials, KEP-2535).
var presentRE = regexp.MustCompile(`^Container image "([^"]+)" already present on machine`)

// ParsePresent reads an "already present on machine" Pulled message.
func ParsePresent(message string) (image string, ok bool) {
	m := presentRE.FindStringSubmatch(message)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Pull is one observed pull, or Count alike ones (an Event's count).
type Pull struct {
	Image    string
	Node     string
	Duration time.Duration
	// Waiting includes the time queued behind other pulls (serialized pulls).
	Waiting time.Duration
	Bytes   int64
	// Count is how many times it happened (0 counts as 1).
	Count int
}

// MaxOccurrences bounds the count one Event may claim, which anyone who may
// create Events can set (a count of 2^31 once cost gigabytes when each
// occurrence was a record). kubelet's back-off between restarts of a
// container tops out at 5 minutes (k8s.io/kubernetes v1.37.2 pkg/kubelet/
// apis/config/v1beta1/defaults.go MaxContainerBackOff), so an image is
// pulled for one pod at most 12 times an hour: 65,536 is more than seven
// years of that, and a larger count is taken as this many.
const MaxOccurrences = 1 << 16

// Occurrences is an Event's count as one may trust it: at least 1, at
// most MaxOccurrences.
func Occurrences(count int32) int { return int(min(max(count, 1), MaxOccurrences)) }

func (p Pull) times() int { return max(p.Count, 1) }

// MaxPull is the longest pull a message may claim and be believed: no pull
// lasts a day. With MaxOccurrences it keeps one Event's weighted time
// within a time.Duration; sums over many saturate (addTime).
const MaxPull = 24 * time.Hour

// addTime adds without wrapping round.
func addTime(a, b time.Duration) time.Duration {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Parse reads a Pulled event message; ok is false for other messages
// (e.g. "already present on machine").
func Parse(message string) (Pull, bool) {
	m := pulledRE.FindStringSubmatch(message)
	if m == nil {
		return Pull{}, false
	}
	d, err := time.ParseDuration(m[2])
	if err != nil || d < 0 || d > MaxPull {
		return Pull{}, false
	}
	w, err := time.ParseDuration(m[3])
	if err != nil {
		w = d
	}
	p := Pull{Image: m[1], Duration: d, Waiting: w}
	if m[4] != "" {
		p.Bytes, _ = strconv.ParseInt(m[4], 10, 64)
	}
	return p, true
}

// Stat summarises the pulls of one image.
type Stat struct {
	Image  string        `json:"image"`
	Count  int           `json:"count"`
	Median time.Duration `json:"median"`
	Max    time.Duration `json:"max"`
	// BytesPerSecond is total bytes over total pull time (0 when the
	// events carry no size).
	BytesPerSecond int64    `json:"bytesPerSecond,omitempty"`
	Nodes          []string `json:"nodes"`
	// PerNode counts the pulls on each node, PerNodeTime sums their
	// durations there.
	PerNode     map[string]int           `json:"-"`
	PerNodeTime map[string]time.Duration `json:"-"`
}

// Summarize groups pulls by image, slowest median first. Each pull weighs
// its Count: the median is the middle of all occurrences.
func Summarize(pulls []Pull) []Stat {
	by := map[string][]Pull{}
	for _, p := range pulls {
		by[p.Image] = append(by[p.Image], p)
	}
	var out []Stat
	for img, ps := range by {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Duration < ps[j].Duration })
		s := Stat{Image: img, Max: ps[len(ps)-1].Duration, PerNode: map[string]int{}, PerNodeTime: map[string]time.Duration{}}
		var bytes float64
		var total time.Duration
		nodes := map[string]bool{}
		for _, p := range ps {
			n := p.times()
			s.Count += n
			if p.Bytes > 0 {
				bytes += float64(p.Bytes) * float64(n)
				total = addTime(total, p.Duration*time.Duration(n))
			}
			if p.Node != "" {
				s.PerNode[p.Node] += n
				s.PerNodeTime[p.Node] = addTime(s.PerNodeTime[p.Node], p.Duration*time.Duration(n))
			}
			if p.Node != "" && !nodes[p.Node] {
				nodes[p.Node] = true
				s.Nodes = append(s.Nodes, p.Node)
			}
		}
		if s.Count%2 == 1 {
			s.Median = nth(ps, s.Count/2)
		} else {
			s.Median = (nth(ps, s.Count/2-1) + nth(ps, s.Count/2)) / 2
		}
		if total > 0 {
			s.BytesPerSecond = int64(bytes / total.Seconds())
		}
		sort.Strings(s.Nodes)
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Median != out[j].Median {
			return out[i].Median > out[j].Median
		}
		return out[i].Image < out[j].Image
	})
	return out
}

// nth is the duration of the i-th occurrence (from 0) of ps, sorted by
// duration, each pull standing for its Count.
func nth(ps []Pull, i int) time.Duration {
	for _, p := range ps {
		if i < p.times() {
			return p.Duration
		}
		i -= p.times()
	}
	return ps[len(ps)-1].Duration
}
