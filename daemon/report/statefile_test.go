package report

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/test/wine"
)

// The readiness probe reads the state file every few seconds while the
// daemon replaces it. On Windows a rename over a file that someone holds
// open fails unless every holder shares delete access, which Go's os.Open
// does not ask for (go1.26 src/syscall/syscall_windows.go Open: only
// FILE_SHARE_READ|FILE_SHARE_WRITE).
func TestStateFileIsReplacedWhileTheProbeReadsIt(t *testing.T) {
	path := filepath.Join(wine.TempDir(t), "state.json")
	synctest.Test(t, func(t *testing.T) {
		if err := writeAtomic(path, []byte(`{"ready":0}`)); err != nil {
			t.Fatal(err)
		}
		f, err := openState(path)
		if err != nil {
			t.Fatal(err)
		}
		// The probe reads and lets go; the write lands once it has.
		closed := make(chan struct{})
		go func() {
			time.Sleep(100 * time.Millisecond)
			f.Close()
			close(closed)
		}()
		if err := writeAtomic(path, []byte(`{"ready":1}`)); err != nil {
			t.Fatalf("replace while the probe reads: %v", err)
		}
		if p, err := ReadState(path); err != nil || p.Ready != 1 {
			t.Errorf("state file after the replace: %+v, %v", p, err)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".state-*")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
		<-closed
	})
}

// Another reader may still hold the file without sharing delete access
// (an administrator's editor, an antivirus scan): the write fails, and the
// publisher must write it again, or the probe reads a stale state until the
// next change, which may be hours away.
func TestPublisherWritesAgainAStateFileItCouldNotReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(wine.TempDir(t), "state.json")
		// A folder where the file goes makes the rename fail on every OS.
		if err := os.MkdirAll(filepath.Join(path, "held"), 0o755); err != nil {
			t.Fatal(err)
		}
		p := &Publisher{StateFile: path, NodeName: "n1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		snap := contract.Snapshot{Total: 1, Ready: 1, Done: true, Images: []contract.ImageState{{Ref: "r/a:1", State: contract.Ready}}}
		ctx, cancel := context.WithCancel(t.Context())
		changed := make(chan struct{}, 1)
		done := make(chan struct{})
		go func() { p.Run(ctx, changed, func() contract.Snapshot { return snap }); close(done) }()
		changed <- struct{}{}
		synctest.Wait()
		for _, p := range []string{filepath.Join(path, "held"), path} {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
		// Nothing changes from here on.
		for range 5 {
			time.Sleep(time.Second)
			synctest.Wait()
		}
		if st, err := ReadState(path); err != nil || st.Ready != 1 {
			t.Errorf("state file once the holder let go: %+v, %v; want it written again", st, err)
		}
		cancel()
		<-done
	})
}

// The publisher beats from the loop that reads the warmer's state: a
// wedged warmer stops the beats, and the liveness probe restarts the daemon.
func TestPublisherHeartbeatStopsWhenTheWarmerIsWedged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := filepath.Join(wine.TempDir(t), "state.json")
		p := &Publisher{StateFile: state, NodeName: "n1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		wedged := make(chan struct{})
		var stuck atomic.Bool
		snapshot := func() contract.Snapshot {
			if stuck.Load() {
				<-wedged
			}
			return contract.Snapshot{Total: 1}
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { p.Run(ctx, make(chan struct{}), snapshot); close(done) }()
		time.Sleep(2*HeartbeatInterval + time.Second)
		synctest.Wait()
		at, err := ReadHeartbeat(HeartbeatFile(state))
		if err != nil || time.Since(at) > HeartbeatInterval {
			t.Fatalf("heartbeat at %s (%v), now %s", at, err, time.Now())
		}
		stuck.Store(true)
		time.Sleep(5 * HeartbeatInterval)
		synctest.Wait()
		if at, _ := ReadHeartbeat(HeartbeatFile(state)); time.Since(at) < 4*HeartbeatInterval {
			t.Errorf("heartbeats went on while the warmer was wedged: last %s ago", time.Since(at))
		}
		close(wedged)
		cancel()
		<-done
	})
}
