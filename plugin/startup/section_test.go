package startup

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

func pulled(uid, node, image string, when time.Time, took time.Duration) ImageEvent {
	return ImageEvent{PodUID: uid, Node: node, Image: image, At: when, Count: 1, Took: took}
}

func present(uid, node, image string, when time.Time) ImageEvent {
	return ImageEvent{PodUID: uid, Node: node, Image: image, At: when, Count: 1, Present: true}
}

// A group whose first pods pulled for minutes, a warm list applied at
// minute 60, and pods after it that found the image present.
func sampleInput() Input {
	const web, sc = "docker.io/shop/web:1", "mcr.microsoft.com/windows/servercore:ltsc2022"
	nodes := map[string]Node{
		"n1":  {Name: "n1", Group: "ng", Build: 20348, AMI: "ami-old", Created: at(0), Ready: at(4)},
		"n2":  {Name: "n2", Group: "ng", Build: 20348, AMI: "ami-baked", Created: at(70), Ready: at(72)},
		"old": {Name: "old", Group: "ng", Build: 20348, Created: at(-60 * 24 * 30), Ready: at(-60*24*30 + 9)},
	}
	pods := []Pod{
		{UID: "a", Node: "n1", Scheduled: at(5), Started: at(15), Images: []string{web}},  // 10m, 8m pulling
		{UID: "b", Node: "n1", Scheduled: at(6), Started: at(12), Images: []string{web}},  // 6m, 5m pulling
		{UID: "c", Node: "n1", Scheduled: at(20), Started: at(21), Images: []string{web}}, // 1m, events expired
		{UID: "d", Node: "n2", Scheduled: at(73), Started: at(74), Images: []string{web}}, // 1m, present
		{UID: "e", Node: "n1", Scheduled: at(80), Restarted: true, Images: []string{web}},
		{UID: "f", Node: "old", Scheduled: at(-60 * 24 * 29), Started: at(-60*24*29 + 30), Images: []string{sc}},
	}
	events := []ImageEvent{
		pulled("a", "n1", web, at(5), 8*time.Minute),
		pulled("b", "n1", web, at(6), 5*time.Minute),
		present("d", "n2", web, at(73)),
	}
	return Input{Since: at(-60 * 24 * 7), Nodes: nodes, Pods: pods, Events: events,
		WarmList: []string{web}, WarmListChanged: at(60), BakedAMIs: map[string]bool{"ami-baked": true}}
}

func rowOf(t *testing.T, s Section, period string) Row {
	t.Helper()
	for _, r := range s.Rows {
		if r.Period == period {
			return r
		}
	}
	t.Fatalf("no %s row in %+v", period, s.Rows)
	return Row{}
}

func TestBuildSplitsBeforeAndAfter(t *testing.T) {
	s := Build(sampleInput())
	all := rowOf(t, s, PeriodAll)
	// Node boots within --since: 4m and 2m; the 30-day-old node is out.
	if all.NodeReady != (Durations{Count: 2, P50: 2 * time.Minute, P95: 4 * time.Minute, Max: 4 * time.Minute}) {
		t.Errorf("node ready = %+v", all.NodeReady)
	}
	// Starts 10m, 6m, 1m, 1m: sorted 1m, 1m, 6m, 10m; p50 is rank 2, p95 rank 4.
	if all.PodStart != (Durations{Count: 4, P50: time.Minute, P95: 10 * time.Minute, Max: 10 * time.Minute}) {
		t.Errorf("pod start = %+v", all.PodStart)
	}
	// Split only for a, b, d: pulling 8m, 5m, 0; rest 2m, 1m, 1m.
	if all.Pulling != (Durations{Count: 3, P50: 5 * time.Minute, P95: 8 * time.Minute, Max: 8 * time.Minute}) ||
		all.Rest != (Durations{Count: 3, P50: time.Minute, P95: 2 * time.Minute, Max: 2 * time.Minute}) {
		t.Errorf("pulling = %+v, rest = %+v", all.Pulling, all.Rest)
	}
	if all.MissingEvents != 1 || all.Restarted != 1 || all.ImageUses != 3 || all.Present != 1 {
		t.Errorf("counts = %+v", all)
	}
	before, since := rowOf(t, s, PeriodBeforeWarm), rowOf(t, s, PeriodSinceWarm)
	if before.PodStart.Count != 3 || since.PodStart.Count != 1 || since.PodStart.P95 != time.Minute {
		t.Errorf("before = %+v, since = %+v", before.PodStart, since.PodStart)
	}
	// First use of the warm-list image: n1 pulled it (before), n2 found it.
	if before.WarmListFirstUses != 1 || before.WarmListPresent != 0 || since.WarmListFirstUses != 1 || since.WarmListPresent != 1 {
		t.Errorf("warm list first uses: before %+v since %+v", before, since)
	}
	baked, other := rowOf(t, s, PeriodBakedAMI), rowOf(t, s, PeriodOtherAMI)
	if baked.PodStart.Count != 1 || other.PodStart.Count != 3 || baked.NodeReady.Count != 1 {
		t.Errorf("baked = %+v, other = %+v", baked, other)
	}
}

func TestFindingsUseTheNewestPeriod(t *testing.T) {
	in := sampleInput()
	if fs := Findings(Build(in)); len(fs) != 0 {
		t.Errorf("pods on the baked AMI start in 1m with no pulling, yet: %+v", fs)
	}
	in.BakedAMIs, in.WarmListChanged = nil, time.Time{}
	fs := Findings(Build(in))
	if len(fs) != 1 || fs[0].Code != PullBound || len(fs[0].Images) != 1 || len(fs[0].Nodes) != 2 ||
		!strings.Contains(fs[0].Message, "p95 pod start 10m0s, of which 8m0s pulling") || !strings.Contains(fs[0].Message, "13m0s pulling") {
		t.Errorf("findings = %+v", fs)
	}
}

// With the events unread (forbidden) no pod is counted as missing its
// events, and none gets a split.
func TestBuildWithEventsUnread(t *testing.T) {
	in := sampleInput()
	in.Events, in.EventsUnread = nil, true
	all := rowOf(t, Build(in), PeriodAll)
	if all.MissingEvents != 0 || all.Pulling.Count != 0 || all.PodStart.Count != 4 {
		t.Errorf("events unread: %+v", all)
	}
}
