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

// TestVersionThroughKubectlPluginDiscovery runs the built plugin the way
// users do: kubectl finds kubectl-winimage on PATH.
func TestVersionThroughKubectlPluginDiscovery(t *testing.T) {
	r, _ := startRig(t, "")
	bin := gobuild.Dir(t, "./cmd/kubectl-winimage",
		"github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo.Version=v9.9.9-e2e")
	env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "KUBECONFIG="+r.Kubeconfig)

	out := runOK(t, env, r.Binaries.Kubectl, "winimage", "version")
	if !strings.Contains(out, "Client Version: v9.9.9-e2e") || !strings.Contains(out, "Server Version: v1.37.2") {
		t.Fatalf("kubectl winimage version printed:\n%s", out)
	}

	// Global flags after the plugin name reach the plugin (kubectl refuses
	// them before it).
	out = runOK(t, os.Environ(), bin+"/kubectl-winimage", "--kubeconfig", r.Kubeconfig, "version", "-o", "json")
	var report struct {
		Kind   string `json:"kind"`
		Client struct {
			Version string `json:"version"`
		} `json:"client"`
		Server string `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if report.Kind != "Version" || report.Client.Version != "v9.9.9-e2e" || report.Server != "v1.37.2" {
		t.Fatalf("report = %+v", report)
	}

	// An unreachable server: one clear line on stderr and a non-zero exit.
	cmd := exec.Command(bin+"/kubectl-winimage", "--kubeconfig", r.Kubeconfig, "--server", "https://127.0.0.1:1", "--request-timeout", "2s", "version")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatal("version against an unreachable server exited 0")
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: cannot reach the Kubernetes server") {
		t.Fatalf("stderr = %q, want one error line", stderr.String())
	}
}

func runOK(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
