package contract

import "time"

// Annotations the daemon writes on its own pod.
const (
	// AnnotationProgress holds the JSON Progress, which `warm status` and
	// `warm --wait` read.
	AnnotationProgress = "winimage.io/progress"
	// AnnotationUnpin holds the JSON UnpinResult of a pod in unpin mode,
	// which is how `warm remove --unpin` learns a node is done.
	AnnotationUnpin = "winimage.io/unpin"
)

// ModeLabel on the daemon's pod template says what the pods do; the
// DaemonSet's selector cannot change, so the mode is an extra label.
const (
	ModeLabel = "winimage.io/mode"
	ModeWarm  = "warm"
	ModeUnpin = "unpin"
)

// Progress is the document published in AnnotationProgress and in the
// state file the readiness probe reads.
type Progress struct {
	Node string `json:"node"`
	// Pod is the daemon pod that wrote it. The state file outlives the pod
	// on the host, so a new pod's probe must not take its predecessor's
	// Ready for its own.
	Pod     string    `json:"pod,omitempty"`
	Updated time.Time `json:"updated"`
	// Warnings about the node that hold for every image, such as a
	// containerd that ignores pins.
	Warnings []string `json:"warnings,omitempty"`
	Snapshot
}

// UnpinResult is what the unpin mode did on one node.
type UnpinResult struct {
	Node     string   `json:"node"`
	Unpinned []string `json:"unpinned"`
	Removed  []string `json:"removed,omitempty"`
	// MoreUnpinned and MoreRemoved count the records left out of the
	// lists above to keep the document within the annotation limit.
	MoreUnpinned int       `json:"moreUnpinned,omitempty"`
	MoreRemoved  int       `json:"moreRemoved,omitempty"`
	Error        string    `json:"error,omitempty"`
	Finished     time.Time `json:"finished"`
}
