//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/eventually"
)

// backgroundPlugin is a plugin run the test interrupts.
type backgroundPlugin struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	done   chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startPlugin runs the plugin in the background; it is killed at cleanup.
func startPlugin(t *testing.T, kubeconfig string, args ...string) *backgroundPlugin {
	t.Helper()
	p := &backgroundPlugin{done: make(chan struct{})}
	p.cmd = exec.Command(pluginBinary(t), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{&p.mu, &p.stdout}, lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

func (p *backgroundPlugin) output() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String(), p.stderr.String()
}

// waitFor waits until stdout contains s, failing if the process ends first.
func (p *backgroundPlugin) waitFor(t *testing.T, timeout time.Duration, s string) {
	t.Helper()
	ended := false
	printed := eventually.Within(timeout, func() bool {
		if out, _ := p.output(); strings.Contains(out, s) {
			return true
		}
		select {
		case <-p.done:
			ended = true
		default:
		}
		return ended
	})
	out, errOut := p.output()
	switch {
	case strings.Contains(out, s): // printed, perhaps just before it ended
	case ended:
		t.Fatalf("plugin ended before printing %q:\n%s\n%s", s, out, errOut)
	case !printed:
		t.Fatalf("no %q after %s:\n%s\n%s", s, timeout, out, errOut)
	}
}

// interrupt sends SIGINT (Ctrl-C) and returns the output and exit code.
func (p *backgroundPlugin) interrupt(t *testing.T) (string, string, int) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("plugin still running 30 s after SIGINT")
	}
	out, errOut := p.output()
	return out, errOut, p.cmd.ProcessState.ExitCode()
}
