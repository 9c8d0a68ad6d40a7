package cmd

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// commandRun is one run of the command tree against the command tests'
// stand-ins: client-go's fake clientset for every typed client, and an
// API server that only counts what reaches it (the dynamic and discovery
// clients warm and version build from the flags).
type commandRun struct {
	stdout, stderr string
	err            error
	// contacted is the requests the fake clientset and the counting server
	// saw.
	contacted int
}

func runCommand(t *testing.T, serverVersion string, objects []runtime.Object, args ...string) commandRun {
	t.Helper()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		http.Error(w, "the command tests' API server answers nothing", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	clientset := fake.NewClientset(objects...)
	clientset.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: serverVersion}
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root, _ := newRoot(streams, clientset)
	root.SetArgs(append([]string{"--server", srv.URL}, args...))
	err := root.ExecuteContext(t.Context())
	return commandRun{stdout: out.String(), stderr: errOut.String(), err: err, contacted: len(clientset.Actions()) + int(served.Load())}
}

// Bad input ends every command in one line and exit 1 before it asks the
// cluster anything, so nothing is half done.
func TestBadInputExitsOneWithOneLineBeforeAnyRequest(t *testing.T) {
	for _, args := range [][]string{
		{"audit", "--fail-on=sometimes"},
		{"audit", "--sections", "nodes,colours"},
		{"audit", "-o", "go-template"},
		{"audit", "-l", "a=(b"},
		{"audit", "--request-timeout", "soon"},
		{"bake", "--max-bytes", "lots"},
		{"bake", "-o", "xml"},
		{"bake", "--cluster-name", "-bad-", "-o", "cloudformation"},
		{"warm"},
		{"warm", "--os", "plan9", "r.example/a:1"},
		{"warm", "--disk-threshold", "2", "r.example/a:1"},
		{"warm", "--dry-run=maybe", "r.example/a:1"},
		{"warm", "status", "-o", "xml"},
		{"warm", "remove", "--remove-unused"},
		{"version", "-o", "xml"},
	} {
		run := runCommand(t, "v1.37.2", nil, args...)
		if run.err == nil || ExitCode(run.err) != ExitFailed || strings.Contains(run.err.Error(), "\n") {
			t.Errorf("%v: %v (exit %d); want exit %d and one line", args, run.err, exitCodeOf(run.err), ExitFailed)
		}
		if run.stdout != "" || run.contacted != 0 {
			t.Errorf("%v: printed %q and sent %d requests before refusing", args, run.stdout, run.contacted)
		}
	}
}

// windowsNode is a Windows node whose kubelet runs kubelet.
func windowsNode(name, kubelet string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.20348"}},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{OperatingSystem: "windows", KubeletVersion: kubelet,
			KernelVersion: "10.0.20348.2340", OSImage: "Windows Server 2022 Datacenter", ContainerRuntimeVersion: "containerd://1.7.27"}},
	}
}

// audit's exit code says whether a finding reached --fail-on: a kubelet
// newer than the API server is an error finding.
func TestAuditExitCodeFollowsFailOn(t *testing.T) {
	nodes := []runtime.Object{windowsNode("win-a", "v1.38.0-eks-1"), windowsNode("win-b", "v1.37.2-eks-1")}
	audit := []string{"audit", "--no-registry", "--sections", "nodes,findings"}
	for _, c := range []struct {
		failOn string
		want   int
	}{{"none", 0}, {"warning", ExitFindings}, {"error", ExitFindings}} {
		run := runCommand(t, "v1.37.2", nodes, append(audit, "--fail-on="+c.failOn)...)
		if got := exitCodeOf(run.err); got != c.want {
			t.Errorf("--fail-on=%s: exit %d (%v), want %d", c.failOn, got, run.err, c.want)
		}
		if !strings.Contains(run.stdout, "win-a") {
			t.Errorf("--fail-on=%s: the report was not printed:\n%s", c.failOn, run.stdout)
		}
	}
	same := []runtime.Object{windowsNode("win-a", "v1.37.2-eks-1"), windowsNode("win-b", "v1.37.2-eks-1")}
	if run := runCommand(t, "v1.37.2", same, append(audit, "--fail-on=error")...); run.err != nil {
		t.Errorf("no error finding, --fail-on=error: %v", run.err)
	}
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	return ExitCode(err)
}
