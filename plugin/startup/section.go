package startup

import (
	"sort"
	"time"
)

// Periods a row covers. A row per group and build covers all pods; when the
// warm list's change time is known, two more split at it, and when baked
// AMIs are known, two more split nodes by AMI.
const (
	PeriodAll        = "all"
	PeriodBeforeWarm = "before-warm-list"
	PeriodSinceWarm  = "since-warm-list"
	PeriodOtherAMI   = "other-amis"
	PeriodBakedAMI   = "baked-amis"
)

// Input is what the audit gathered.
type Input struct {
	// Since bounds the history: nodes created and pods scheduled before it
	// are left out (older objects have lost their events).
	Since  time.Time
	Nodes  map[string]Node
	Pods   []Pod
	Events []ImageEvent
	// EventsUnread: the events could not be listed (forbidden), so no
	// pod's split is known and none counts as missing its events.
	EventsUnread bool
	// WarmList are the warm list's images (normalized); WarmListChanged
	// when it last changed (zero: unknown or no list).
	WarmList        []string
	WarmListChanged time.Time
	// BakedAMIs are AMIs a bake produced.
	BakedAMIs map[string]bool
}

// Section is the audit's startup section.
type Section struct {
	Since           time.Time  `json:"since"`
	WarmListChanged *time.Time `json:"warmListChanged,omitempty"`
	BakedAMIs       []string   `json:"bakedAMIs,omitempty"`
	Rows            []Row      `json:"rows"`
}

// Row is one group and Windows build over one period.
type Row struct {
	Group  string `json:"group"`
	Build  int    `json:"build,omitempty"`
	Period string `json:"period"`
	// NodeReady is node creation to Ready.
	NodeReady Durations `json:"nodeReady"`
	// PodStart is pod scheduled to all containers started; Pulling the
	// part kubelet spent pulling its images (including waiting for other
	// pulls); Rest the remainder. Pulling and Rest count only pods whose
	// image events are all still there.
	PodStart Durations `json:"podStart"`
	Pulling  Durations `json:"pulling"`
	Rest     Durations `json:"rest"`
	// MissingEvents counts started pods with an image that has no Pulled
	// event (expired, kube-apiserver --event-ttl is 1h by default);
	// Restarted pods whose first start kubelet no longer records.
	MissingEvents int `json:"missingEvents"`
	Restarted     int `json:"restarted"`
	// ImageUses are kubelet's Pulled events, Present those that found the
	// image already present (warm hits).
	ImageUses int `json:"imageUses"`
	Present   int `json:"present"`
	// WarmListFirstUses are the first uses on a node of an image on the
	// warm list; WarmListPresent those that found it present.
	WarmListFirstUses int `json:"warmListFirstUses"`
	WarmListPresent   int `json:"warmListPresent"`

	// pullTime sums each image's observed pull time, nodes are the nodes
	// measured, both for findings.
	pullTime map[string]time.Duration
	nodes    map[string]bool
}

type rowKey struct {
	group  string
	build  int
	period string
}

// Build computes the section.
func Build(in Input) Section {
	s := Section{Since: in.Since}
	if !in.WarmListChanged.IsZero() {
		t := in.WarmListChanged
		s.WarmListChanged = &t
	}
	for ami := range in.BakedAMIs {
		s.BakedAMIs = append(s.BakedAMIs, ami)
	}
	sort.Strings(s.BakedAMIs)
	a := newAccumulator(in)
	for _, n := range in.Nodes {
		a.addNode(n)
	}
	byPod := eventsByPod(in.Events)
	for _, p := range in.Pods {
		a.addPod(p, byPod)
	}
	a.addImageUses(in.Events)
	s.Rows = a.rows()
	return s
}

func eventsByPod(events []ImageEvent) map[string][]ImageEvent {
	out := map[string][]ImageEvent{}
	for _, e := range events {
		out[podKey(e.PodUID, e.Pod)] = append(out[podKey(e.PodUID, e.Pod)], e)
	}
	return out
}

func podKey(uid, name string) string {
	if uid != "" {
		return uid
	}
	return name
}
