// Package pulltime reads kubelet Pulled events and summarises how long
// image pulls really took, per image.
package pulltime

import (
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

// Pull is one observed pull.
type Pull struct {
	Image    string
	Node     string
	Duration time.Duration
	// Waiting includes the time queued behind other pulls (serialized pulls).
	Waiting time.Duration
	Bytes   int64
}

// Parse reads a Pulled event message; ok is false for other messages
// (e.g. "already present on machine").
func Parse(message string) (Pull, bool) {
	m := pulledRE.FindStringSubmatch(message)
	if m == nil {
		return Pull{}, false
	}
	d, err := time.ParseDuration(m[2])
	if err != nil {
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

// Summarize groups pulls by image, slowest median first.
func Summarize(pulls []Pull) []Stat {
	by := map[string][]Pull{}
	for _, p := range pulls {
		by[p.Image] = append(by[p.Image], p)
	}
	var out []Stat
	for img, ps := range by {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Duration < ps[j].Duration })
		s := Stat{Image: img, Count: len(ps), Max: ps[len(ps)-1].Duration, PerNode: map[string]int{}, PerNodeTime: map[string]time.Duration{}}
		if len(ps)%2 == 1 {
			s.Median = ps[len(ps)/2].Duration
		} else {
			s.Median = (ps[len(ps)/2-1].Duration + ps[len(ps)/2].Duration) / 2
		}
		var bytes int64
		var total time.Duration
		nodes := map[string]bool{}
		for _, p := range ps {
			if p.Bytes > 0 {
				bytes += p.Bytes
				total += p.Duration
			}
			if p.Node != "" {
				s.PerNode[p.Node]++
				s.PerNodeTime[p.Node] += p.Duration
			}
			if p.Node != "" && !nodes[p.Node] {
				nodes[p.Node] = true
				s.Nodes = append(s.Nodes, p.Node)
			}
		}
		if total > 0 {
			s.BytesPerSecond = int64(float64(bytes) / total.Seconds())
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
