// Package warm decides what to pull, in what order, and keeps the state of
// every image for the progress report.
package warm

import (
	"sort"
	"time"
)

// State of one image on this node.
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
}

// AllReady is the readiness condition: every image is Ready.
func (s Snapshot) AllReady() bool { return s.Done && s.Ready == s.Total }

func snapshotOf(states map[string]*ImageState) Snapshot {
	s := Snapshot{Total: len(states), Done: true}
	for _, st := range states {
		s.Images = append(s.Images, *st)
		switch st.State {
		case Ready:
			s.Ready++
		case Pending, Pulling, Unpacking:
			s.Done = false
		}
	}
	sort.Slice(s.Images, func(i, j int) bool { return s.Images[i].Ref < s.Images[j].Ref })
	return s
}
