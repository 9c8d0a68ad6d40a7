//go:build linux

// Package e2e runs the plugin and the daemon against the real components of
// the rig. These tests need root (containerd) and the rig cache; they are
// skipped with -short only.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/fleet"
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
	f, err := fleet.Parse([]byte(fleetYAML))
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
	return r, applied
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// moduleRoot is the repository root (two levels above this package).
func moduleRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

// builds caches binaries per (package, stamps) for the test binary's life.
var builds sync.Map

// buildBinary builds a main package of this module with extra -X stamps,
// once per test binary, and returns the folder holding it.
func buildBinary(t *testing.T, pkg, out string, stamps ...string) string {
	t.Helper()
	key := pkg + "|" + strings.Join(stamps, "|")
	if dir, ok := builds.Load(key); ok {
		return dir.(string)
	}
	dir, err := os.MkdirTemp("", "winimage-e2e-bin-")
	if err != nil {
		t.Fatal(err)
	}
	ldflags := ""
	for _, s := range stamps {
		ldflags += " -X " + s
	}
	// Built the way release builds are (no cgo, -trimpath), so they share
	// the build cache with the release tests' builds.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", filepath.Join(dir, out), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = moduleRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	actual, _ := builds.LoadOrStore(key, dir)
	return actual.(string)
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
	builds.Range(func(_, dir any) bool {
		os.RemoveAll(dir.(string))
		return true
	})
	os.Exit(code)
}
