package agent

import (
	"fmt"

	"github.com/winimage-io/kubectl-winimage/daemon/hostprocess"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// Probe is the readiness probe: nil when the state file says every listed
// image is Ready.
func Probe(stateFile string) error {
	p, err := report.ReadState(hostprocess.InSandbox(stateFile))
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	if !p.AllReady() {
		return fmt.Errorf("not ready: %d of %d images ready", p.Ready, p.Total)
	}
	return nil
}
