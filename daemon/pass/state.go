// Package pass runs one warming pass: it decides what to pull, in what
// order, and keeps the state of every image for the progress report.
package pass

import (
	"sort"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func snapshotOf(states map[string]*contract.ImageState) contract.Snapshot {
	s := contract.Snapshot{Total: len(states), Done: true}
	for _, st := range states {
		s.Images = append(s.Images, *st)
		switch {
		case st.State == contract.Ready:
			s.Ready++
		case st.State.InProgress():
			s.Done = false
		}
	}
	sort.Slice(s.Images, func(i, j int) bool { return s.Images[i].Ref < s.Images[j].Ref })
	return s
}
