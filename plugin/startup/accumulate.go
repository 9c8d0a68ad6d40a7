package startup

import (
	"sort"
	"time"
)

type accumulator struct {
	in       Input
	warm     map[string]bool
	acc      map[rowKey]*samples
	baked    bool
	warmTime bool
}

type samples struct {
	row                      Row
	ready, start, pull, rest []time.Duration
}

func newAccumulator(in Input) *accumulator {
	a := &accumulator{in: in, warm: map[string]bool{}, acc: map[rowKey]*samples{},
		baked: len(in.BakedAMIs) > 0, warmTime: !in.WarmListChanged.IsZero()}
	for _, img := range in.WarmList {
		a.warm[img] = true
	}
	return a
}

// periods are the rows something on node at time at counts in.
func (a *accumulator) periods(node Node, at time.Time) []rowKey {
	keys := []rowKey{{node.Group, node.Build, PeriodAll}}
	if a.warmTime {
		p := PeriodSinceWarm
		if at.Before(a.in.WarmListChanged) {
			p = PeriodBeforeWarm
		}
		keys = append(keys, rowKey{node.Group, node.Build, p})
	}
	if a.baked {
		p := PeriodOtherAMI
		if a.in.BakedAMIs[node.AMI] {
			p = PeriodBakedAMI
		}
		keys = append(keys, rowKey{node.Group, node.Build, p})
	}
	return keys
}

func (a *accumulator) at(k rowKey) *samples {
	s := a.acc[k]
	if s == nil {
		s = &samples{row: Row{Group: k.group, Build: k.build, Period: k.period, pullTime: map[string]time.Duration{}, nodes: map[string]bool{}}}
		a.acc[k] = s
	}
	return s
}

func (a *accumulator) addNode(n Node) {
	if n.Created.Before(a.in.Since) || n.Ready.IsZero() || n.Ready.Before(n.Created) {
		return
	}
	for _, k := range a.periods(n, n.Created) {
		s := a.at(k)
		s.ready = append(s.ready, n.Ready.Sub(n.Created))
		s.row.nodes[n.Name] = true
	}
}

// addPod measures a pod from scheduled to started, and splits that by its
// Pulled events when every image has one.
func (a *accumulator) addPod(p Pod, byPod map[string][]ImageEvent) {
	node, ok := a.in.Nodes[p.Node]
	if !ok || p.Scheduled.Before(a.in.Since) {
		return
	}
	keys := a.periods(node, p.Scheduled)
	if p.Restarted {
		for _, k := range keys {
			a.at(k).row.Restarted++
		}
		return
	}
	if p.Started.IsZero() || p.Started.Before(p.Scheduled) {
		return
	}
	total := p.Started.Sub(p.Scheduled)
	pulling, perImage, complete := podPulls(p, byPod[podKey(p.UID, p.Name)])
	for _, k := range keys {
		s := a.at(k)
		s.start = append(s.start, total)
		s.row.nodes[p.Node] = true
		if !complete {
			if !a.in.EventsUnread {
				s.row.MissingEvents++
			}
			continue
		}
		pulling := min(pulling, total)
		s.pull = append(s.pull, pulling)
		s.rest = append(s.rest, total-pulling)
		for img, d := range perImage {
			s.row.pullTime[img] += d
		}
	}
}

// podPulls sums the pod's pull times; complete is false when an image of
// the pod has no Pulled event left, so the split is not guessed.
func podPulls(p Pod, events []ImageEvent) (time.Duration, map[string]time.Duration, bool) {
	seen := map[string]bool{}
	perImage := map[string]time.Duration{}
	var total time.Duration
	for _, e := range events {
		seen[e.Image] = true
		if !e.Present {
			total += e.Took
			perImage[e.Image] += e.Took
		}
	}
	for _, img := range p.Images {
		if !seen[img] {
			return 0, nil, false
		}
	}
	return total, perImage, true
}

// addImageUses counts warm hits, and each warm-list image's first use per
// node (the earliest Pulled event for it there).
func (a *accumulator) addImageUses(events []ImageEvent) {
	type nodeImage struct{ node, image string }
	first := map[nodeImage]ImageEvent{}
	for _, e := range events {
		node, ok := a.in.Nodes[e.Node]
		if !ok || e.At.Before(a.in.Since) {
			continue
		}
		for _, k := range a.periods(node, e.At) {
			s := a.at(k)
			s.row.ImageUses += e.Count
			if e.Present {
				s.row.Present += e.Count
			}
		}
		if a.warm[e.Image] {
			ni := nodeImage{e.Node, e.Image}
			if f, ok := first[ni]; !ok || e.At.Before(f.At) {
				first[ni] = e
			}
		}
	}
	for _, e := range first {
		for _, k := range a.periods(a.in.Nodes[e.Node], e.At) {
			s := a.at(k)
			s.row.WarmListFirstUses++
			if e.Present {
				s.row.WarmListPresent++
			}
		}
	}
}

func (a *accumulator) rows() []Row {
	out := make([]Row, 0, len(a.acc))
	for _, s := range a.acc {
		r := s.row
		r.NodeReady, r.PodStart = summarize(s.ready), summarize(s.start)
		r.Pulling, r.Rest = summarize(s.pull), summarize(s.rest)
		out = append(out, r)
	}
	order := map[string]int{PeriodAll: 0, PeriodBeforeWarm: 1, PeriodSinceWarm: 2, PeriodOtherAMI: 3, PeriodBakedAMI: 4}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		if out[i].Build != out[j].Build {
			return out[i].Build < out[j].Build
		}
		return order[out[i].Period] < order[out[j].Period]
	})
	return out
}
