//go:build linux

package bench

import (
	"context"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/fleet"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// startFleet starts a rig without a node containerd and applies the fleet
// described by spec to it; the caller stops the rig.
func startFleet(b *testing.B, spec string) (*rig.Rig, *fleet.Applied, *fleet.Fleet) {
	ctx := context.Background()
	r, err := rig.Start(ctx, rig.Options{NoContainerd: true})
	if err != nil {
		b.Fatal(err)
	}
	f, err := fleet.Parse([]byte(spec))
	if err != nil {
		r.Stop()
		b.Fatal(err)
	}
	applied, err := fleet.Apply(ctx, r.Client, r.Registry.Host(), f)
	if err != nil {
		r.Stop()
		b.Fatal(err)
	}
	return r, applied, f
}
