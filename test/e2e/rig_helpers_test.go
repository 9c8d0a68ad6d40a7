//go:build linux

// Package e2e runs the plugin and the daemon against the real components of
// the rig. These tests need root (containerd) and the rig cache; they are
// skipped with -short only.
package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/fleet"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

// startRig starts a fresh rig for one test, applies fleetYAML (if any) and
// waits for it to settle; the rig is stopped when the test ends.
func startRig(t *testing.T, fleetYAML string) (*rig.Rig, *fleet.Applied) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the rig (run without -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := rig.Start(ctx, rig.Options{Log: testLog{t}})
	if err != nil {
		t.Fatalf("start rig: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop rig: %v", err)
		}
	})
	if fleetYAML == "" {
		return r, nil
	}
	// ${REGISTRY} in a fleet is the rig registry's host, for the places
	// (kubelet configurations) that need a full image name.
	f, err := fleet.Parse([]byte(strings.ReplaceAll(fleetYAML, "${REGISTRY}", r.Registry.Host())))
	if err != nil {
		t.Fatal(err)
	}
	applied, err := fleet.Apply(ctx, r.Client, r.Registry.Host(), f)
	if err != nil {
		t.Fatalf("apply fleet: %v", err)
	}
	if err := fleet.WaitSettled(ctx, r.Client, f, applied, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := r.ServeKubeletEndpoints(ctx, applied.Endpoints); err != nil {
		t.Fatal(err)
	}
	return r, applied
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startRigRaw(ctx context.Context, t *testing.T) (*rig.Rig, error) {
	return rig.Start(ctx, rig.Options{Log: testLog{t}})
}

func parseFleet(t *testing.T, doc string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func applyFleet(ctx context.Context, t *testing.T, r *rig.Rig, f *fleet.Fleet) *fleet.Applied {
	t.Helper()
	applied, err := fleet.Apply(ctx, r.Client, r.Registry.Host(), f)
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

// TestMain removes the binaries built for the tests once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Cleanup()
	os.Exit(code)
}

// phase runs one step of a long end-to-end test as a subtest, so its name
// says which step failed; later steps build on it, so a failure stops the
// test.
func phase(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// standIn gives every node of the group a containerd of its own and runs
// the daemon pods on them through the kubelet stand-in, killed without a
// signal as Windows pods are.
func standIn(t *testing.T, r *rig.Rig, nodeNames []string) (map[string]*rig.Containerd, *rig.Kubelet) {
	t.Helper()
	ctx := context.Background()
	nodes := map[string]*rig.Containerd{}
	for i, n := range nodeNames {
		c, err := r.StartContainerd(ctx, fmt.Sprintf("node-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		nodes[n] = c
	}
	kubelet, err := r.StartKubelet(ctx, nodes, map[string]string{"winimage-daemon": daemonBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	kubelet.StopWithoutSignal()
	return nodes, kubelet
}
