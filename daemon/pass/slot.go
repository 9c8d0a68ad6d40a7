package pass

import (
	"context"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// holdSlot holds the node's pull slot for one pull: the first pull to
// start takes it (waiting, with the image saying so), the last to end
// gives it back.
func (w *Warmer) holdSlot(ctx context.Context, ref string) (func(), error) {
	w.slotMu.Lock()
	defer w.slotMu.Unlock()
	if w.slotUsers == 0 {
		w.set(ref, func(s *contract.ImageState) { s.Reason = "waiting for a cluster-wide pull slot" })
		release, err := w.Slot(ctx)
		if err != nil {
			return nil, err
		}
		w.slotRelease = release
	}
	w.slotUsers++
	return func() {
		w.slotMu.Lock()
		defer w.slotMu.Unlock()
		if w.slotUsers--; w.slotUsers == 0 {
			w.slotRelease()
			w.slotRelease = nil
		}
	}, nil
}
