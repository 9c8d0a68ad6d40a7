package contract

import "time"

// State of one image on one node.
type State string

// States, in the order an image goes through them.
const (
	Pending   State = "Pending"
	Pulling   State = "Pulling"
	Unpacking State = "Unpacking"
	Ready     State = "Ready"
	Failed    State = "Failed"
	// Skipped: not pulled on purpose (the disk guard).
	Skipped State = "Skipped"
)

// InProgress reports whether the state can still change without a new list.
func (s State) InProgress() bool { return s == Pending || s == Pulling || s == Unpacking }

// ImageState is the progress of one image.
type ImageState struct {
	Ref        string    `json:"ref"`
	Digest     string    `json:"digest,omitempty"`
	State      State     `json:"state"`
	BytesDone  int64     `json:"bytesDone,omitempty"`
	BytesTotal int64     `json:"bytesTotal,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	Updated    time.Time `json:"updated"`
}

// Snapshot is every image's state at one moment.
type Snapshot struct {
	Images []ImageState `json:"images"`
	Ready  int          `json:"ready"`
	Total  int          `json:"total"`
	// Done means nothing is pending or in progress any more.
	Done bool `json:"done"`
	// OmittedReady and OmittedOther count the images left out of Images
	// to keep the document within the annotation limit (Progress.Fit):
	// Ready ones first, then others.
	OmittedReady int `json:"omittedReady,omitempty"`
	OmittedOther int `json:"omittedOther,omitempty"`
}

// AllReady is the readiness condition: every image is Ready.
func (s Snapshot) AllReady() bool { return s.Done && s.Ready == s.Total }
