//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/wine"
)

// The daemon's Windows build, executed under Wine against the rig, as far
// as Wine goes: it reads a kubeconfig at a drive-letter path and the API
// server over TCP (its access check and its Node), finds its image list
// under %CONTAINER_SANDBOX_MOUNT_POINT% as a Server 2019 HostProcess
// container does, makes its state folder under C:\ProgramData, and dials
// containerd at the stock named pipe. There it stops: under Wine 8.0 a
// go-winio pipe's reads never complete (a winio listener and client in
// one Wine process hang on their first read), so no containerd can be
// reached over a pipe, and the warm itself is tested on Linux.
func TestWindowsDaemonBuildStartsUnderWine(t *testing.T) {
	r, applied := startRig(t, daemonFleet)
	env, err := wine.Prepare(context.Background(), testLog{t})
	if err != nil {
		t.Fatalf("wine: %v", err)
	}
	exe := filepath.Join(t.TempDir(), "winimage-daemon.exe")
	build := exec.Command("go", "build", "-trimpath", "-o", exe, "./cmd/winimage-daemon")
	build.Dir = gobuild.ModuleRoot(t)
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Server 2019's layout: the pod's volumes only under the sandbox.
	sandbox := t.TempDir()
	list := filepath.Join(sandbox, "etc", "winimage", "list", "images.yaml")
	if err := os.MkdirAll(filepath.Dir(list), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(list, []byte("images:\n- ref: "+applied.Ref("apps/b1:1")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	folder := fmt.Sprintf("winimage-e2e-%d", os.Getpid())
	prefix, _ := wine.PrefixDir()
	stateDir := filepath.Join(prefix, "drive_c", "ProgramData", folder)
	defer os.RemoveAll(stateDir)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", exe, "run",
		"--kubeconfig", winePath(r.Kubeconfig), "--node-name", applied.Nodes["workers"][0], "--pod-namespace", "winimage-system",
		"--images", "/etc/winimage/list/images.yaml", "--state-file", `C:\ProgramData\`+folder+`\state.json`)
	cmd.Env = append(env, "CONTAINER_SANDBOX_MOUNT_POINT="+winePath(sandbox)+`\`)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the Windows daemon did not stop: %s", out)
	}
	// Every step before the containerd dial passed: an error there would
	// name the kubeconfig, the API server, the Node, the list or the folder.
	if err == nil || !strings.Contains(string(out), `containerd at \\.\pipe\containerd-containerd`) {
		t.Fatalf("the Windows daemon under Wine: %v\n%s", err, out)
	}
	if fi, err := os.Stat(stateDir); err != nil || !fi.IsDir() {
		t.Errorf("no state folder under C:\\ProgramData: %v", err)
	}
	t.Logf("the Windows daemon under Wine stopped at the containerd pipe, as Wine allows:\n%s", out)
}

// winePath is a Linux path as Wine's Z: drive shows it.
func winePath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }
