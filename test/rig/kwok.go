//go:build linux

package rig

import (
	"context"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/fleet"
)

func (r *Rig) startKwok(ctx context.Context) error {
	p, err := r.start("kwok", r.bins.Kwok,
		"--kubeconfig", r.Kubeconfig,
		"--config", r.bins.KwokStages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector", fleet.KwokAnnotation+"=fake",
		// No kwok HTTP server: nothing here execs into simulated pods, and a
		// fixed port would clash between rigs.
		"--node-port=0", "--server-address=",
		"--cidr", "10.244.0.0/16")
	if err != nil {
		return err
	}
	return p.survives(300 * time.Millisecond)
}
