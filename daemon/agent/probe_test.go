package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/hostprocess"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func writeState(t *testing.T, path string, snap contract.Snapshot) {
	t.Helper()
	writeStateOf(t, path, "pod-1", snap)
}

func writeStateOf(t *testing.T, path, pod string, snap contract.Snapshot) {
	t.Helper()
	data, err := json.Marshal(contract.Progress{Node: "n1", Pod: pod, Snapshot: snap})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestProbe(t *testing.T) {
	t.Setenv(hostprocess.SandboxEnv, "")
	dir := wine.TempDir(t)
	cases := []struct {
		name    string
		snap    *contract.Snapshot
		wantErr string
	}{
		{"every image ready", &contract.Snapshot{Ready: 2, Total: 2, Done: true}, ""},
		{"one still pulling", &contract.Snapshot{Ready: 1, Total: 2}, "1 of 2 images ready"},
		// A settled pass is ready even with a failure, or one bad image
		// would hold every rolling update of the DaemonSet.
		{"one failed, the pass settled", &contract.Snapshot{Ready: 1, Total: 2, Done: true}, ""},
		{"no state yet", nil, "not ready"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name, "state.json")
		if c.snap != nil {
			writeState(t, path, *c.snap)
		}
		err := Probe(path, "pod-1")
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: Probe = %v, want %q", c.name, err, c.wantErr)
		}
	}
}

func TestProbeReadsTheStateFileInsideTheSandbox(t *testing.T) {
	sandbox := wine.TempDir(t)
	t.Setenv(hostprocess.SandboxEnv, sandbox)
	writeState(t, filepath.Join(sandbox, "run", "winimage", "state.json"), contract.Snapshot{Ready: 1, Total: 1, Done: true})
	if err := Probe("/run/winimage/state.json", "pod-1"); err != nil {
		t.Fatal(err)
	}
}

func TestProbeIgnoresAReadyStateLeftByThePreviousPod(t *testing.T) {
	t.Setenv(hostprocess.SandboxEnv, "")
	path := filepath.Join(wine.TempDir(t), "state.json")
	writeStateOf(t, path, "winimage-daemon-old", contract.Snapshot{Ready: 3, Total: 3, Done: true})
	if err := Probe(path, "winimage-daemon-new"); err == nil || !strings.Contains(err.Error(), "winimage-daemon-old") {
		t.Fatalf("Probe = %v: the new pod is Ready before it checked anything", err)
	}
}

func TestAliveWhileTheHeartbeatIsFresh(t *testing.T) {
	t.Setenv(hostprocess.SandboxEnv, "")
	state := filepath.Join(wine.TempDir(t), "state.json")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if err := Alive(state, 3*time.Minute, now); err == nil {
		t.Error("alive without a heartbeat")
	}
	if err := os.WriteFile(report.HeartbeatFile(state), []byte(now.Add(-time.Minute).Format(time.RFC3339Nano)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Alive(state, 3*time.Minute, now); err != nil {
		t.Errorf("a heartbeat a minute old: %v", err)
	}
	if err := Alive(state, 3*time.Minute, now.Add(5*time.Minute)); err == nil || !strings.Contains(err.Error(), "no heartbeat for 6m0s") {
		t.Errorf("a heartbeat six minutes old: %v", err)
	}
}
