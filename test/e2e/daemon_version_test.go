//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
)

func TestDaemonVersionReachesNodeContainerd(t *testing.T) {
	r, _ := startRig(t, "")
	bin := gobuild.Dir(t, "./cmd/winimage-daemon",
		"github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo.Version=v9.9.9-e2e")
	out := runOK(t, os.Environ(), bin+"/winimage-daemon", "version", "--containerd-address", r.Containerd.Address)
	var report struct {
		Daemon     struct{ Version string }
		Containerd string
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if report.Daemon.Version != "v9.9.9-e2e" || !strings.HasPrefix(report.Containerd, strings.TrimPrefix(r.Containerd.Version, "v")) {
		t.Fatalf("report = %+v, want the rig's containerd %s", report, r.Containerd.Version)
	}

	// A wrong address fails with a clear error and a non-zero exit.
	cmd := exec.Command(bin+"/winimage-daemon", "version", "--containerd-address", r.Dir+"/no.sock")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("wrong containerd address exited 0:\n%s", out)
	}
}
