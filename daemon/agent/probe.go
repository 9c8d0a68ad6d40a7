package agent

import (
	"fmt"

	"github.com/winimage-io/kubectl-winimage/daemon/hostprocess"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// Probe is the readiness probe: nil when the state file, written by this
// pod (pod, when known), says every listed image is Ready.
func Probe(stateFile, pod string) error {
	p, err := report.ReadState(hostprocess.InSandbox(stateFile))
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	if pod != "" && p.Pod != pod {
		return fmt.Errorf("not ready: the state file is from pod %q, not this pod %q", p.Pod, pod)
	}
	if !p.AllReady() {
		return fmt.Errorf("not ready: %d of %d images ready", p.Ready, p.Total)
	}
	return nil
}
