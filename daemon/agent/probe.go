package agent

import (
	"fmt"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/hostprocess"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// Probe is the readiness probe: nil when the state file, written by this
// pod (pod, when known), says the daemon's pass has settled every listed
// image: Ready, or Failed or Skipped with a reason. A DaemonSet rolls a new
// version node by node as its pods turn Ready; had a failed image kept a
// pod unready, one bad reference in the list would stop every upgrade of
// the daemon (maxUnavailable nodes stuck, the rest never reached). Which
// images are warm is warm status's and the Node Events' to say.
func Probe(stateFile, pod string) error {
	p, err := report.ReadState(hostprocess.InSandbox(stateFile))
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	if pod != "" && p.Pod != pod {
		return fmt.Errorf("not ready: the state file is from pod %q, not this pod %q", p.Pod, pod)
	}
	if !p.Done {
		return fmt.Errorf("not ready: warming, %d of %d images ready", p.Ready, p.Total)
	}
	return nil
}

// Alive is the liveness probe: nil while the daemon's publisher has
// written its heartbeat (report.HeartbeatFile) within maxAge. The
// publisher writes it every report.HeartbeatInterval from the loop that
// reads the warmer's state, so a daemon wedged on that state, or gone
// silent, is restarted by kubelet.
func Alive(stateFile string, maxAge time.Duration, now time.Time) error {
	at, err := report.ReadHeartbeat(report.HeartbeatFile(hostprocess.InSandbox(stateFile)))
	if err != nil {
		return fmt.Errorf("not alive: %w", err)
	}
	if age := now.Sub(at); age > maxAge {
		return fmt.Errorf("not alive: no heartbeat for %s", age.Round(time.Second))
	}
	return nil
}
