package report

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// HeartbeatInterval is how often the publisher writes its heartbeat for the
// liveness probe.
const HeartbeatInterval = 30 * time.Second

// HeartbeatFile is the heartbeat's file beside the state file.
func HeartbeatFile(stateFile string) string {
	return filepath.Join(filepath.Dir(stateFile), "alive")
}

// writeHeartbeat records now in the heartbeat file, replaced as the state
// file is, so the probe never reads half of one.
func writeHeartbeat(stateFile string, now time.Time) error {
	return writeAtomic(HeartbeatFile(stateFile), []byte(now.UTC().Format(time.RFC3339Nano)))
}

// ReadHeartbeat is the time the heartbeat file records.
func ReadHeartbeat(path string) (time.Time, error) {
	data, err := readShared(path)
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(string(data)))
}

// heartbeat writes the first heartbeat and returns the ticker for the rest
// (stopped at once when there is no state file).
func (p *Publisher) heartbeat(snapshot func() contract.Snapshot) *time.Ticker {
	t := time.NewTicker(HeartbeatInterval)
	if p.StateFile == "" {
		t.Stop()
		return t
	}
	p.beat(snapshot)
	return t
}

// beat takes a snapshot, which waits for the warmer's state, and then
// writes the heartbeat: a warmer wedged on its state stops the beats.
func (p *Publisher) beat(snapshot func() contract.Snapshot) {
	_ = snapshot()
	if err := writeHeartbeat(p.StateFile, time.Now()); err != nil {
		p.Log.Error("write heartbeat", "err", err)
	}
}
