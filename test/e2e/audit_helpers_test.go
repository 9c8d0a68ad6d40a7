//go:build linux

package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
)

// pluginBinary is kubectl-winimage stamped v9.9.9-e2e.
func pluginBinary(t *testing.T) string {
	t.Helper()
	return gobuild.Binary(t, "./cmd/kubectl-winimage", "github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo.Version=v9.9.9-e2e")
}

// runPlugin runs the plugin with a kubeconfig and returns stdout, stderr and
// the exit code.
func runPlugin(t *testing.T, kubeconfig string, args ...string) (string, string, int) {
	t.Helper()
	return runPluginEnv(t, nil, kubeconfig, args...)
}

// runPluginEnv is runPlugin with extra environment variables.
func runPluginEnv(t *testing.T, env []string, kubeconfig string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(pluginBinary(t), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// auditJSON runs `audit -o json` and decodes the report.
func auditJSON(t *testing.T, kubeconfig string, args ...string) *audit.Report {
	t.Helper()
	return auditJSONEnv(t, nil, kubeconfig, args...)
}

func auditJSONEnv(t *testing.T, env []string, kubeconfig string, args ...string) *audit.Report {
	t.Helper()
	out, stderr, code := runPluginEnv(t, env, kubeconfig, append([]string{"audit", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("audit exited %d: %s", code, stderr)
	}
	var r audit.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("audit -o json: %v\n%s", err, out)
	}
	if r.APIVersion != audit.APIVersion || r.Kind != audit.Kind {
		t.Fatalf("report type %s/%s", r.APIVersion, r.Kind)
	}
	return &r
}

func findingsByCode(r *audit.Report) map[string][]finding.Finding {
	out := map[string][]finding.Finding{}
	for _, f := range r.Findings {
		out[f.Code] = append(out[f.Code], f)
	}
	return out
}

func imageByRef(r *audit.Report, ref string) *audit.Image {
	for i := range r.Images {
		if r.Images[i].Ref == ref {
			return &r.Images[i]
		}
	}
	return nil
}
