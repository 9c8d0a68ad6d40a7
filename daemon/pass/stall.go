package pass

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultStallTimeout is Warmer.StallTimeout's default, CRI's default
// image_pull_progress_timeout (containerd v2.4.2 internal/cri/config/
// config.go defaultImagePullProgressTimeoutDuration).
const DefaultStallTimeout = 5 * time.Minute

// errStalled is the cause a stalled pull is cancelled with.
var errStalled = errors.New("stalled")

// stallWatch cancels a pull whose download has not moved for timeout, as
// CRI's pullProgressReporter does (containerd v2.4.2 internal/cri/server/
// images/image_pull.go): a registry that accepts the connection and then
// sends nothing, or a byte a minute, must not hold the node's pull for
// ever.
//
// CRI counts only while the pull has HTTP requests open; the daemon sees
// bytes in the content store instead, so it holds back where a pull is
// still for another reason: while its layers unpack (no bytes move, and on
// Windows that takes minutes), before the first progress report (no
// registry plan, no layers to watch), and while any other pull on the node
// moves (containerd's download limit may be making this one wait).
type stallWatch struct {
	timeout time.Duration
	cancel  context.CancelCauseFunc
	// nodeMoved is the last time any pull on the node moved (unix nanos).
	nodeMoved *atomic.Int64

	mu        sync.Mutex
	armed     bool
	done      int64
	moved     time.Time
	unpacking bool
}

// watchStalls returns ctx cancelled with errStalled once the download has
// been still for timeout, the watch to feed with progress, and stop.
func watchStalls(ctx context.Context, timeout time.Duration, nodeMoved *atomic.Int64) (context.Context, *stallWatch, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &stallWatch{timeout: timeout, cancel: cancel, nodeMoved: nodeMoved, moved: time.Now()}
	stopped := make(chan struct{})
	go s.run(ctx, stopped)
	return ctx, s, func() {
		close(stopped)
		cancel(nil)
	}
}

func (s *stallWatch) run(ctx context.Context, stopped chan struct{}) {
	tick := time.NewTicker(max(s.timeout/10, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stopped:
			return
		case now := <-tick.C:
			if s.still(now) {
				s.cancel(errStalled)
				return
			}
		}
	}
}

func (s *stallWatch) still(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.moved
	if node := time.Unix(0, s.nodeMoved.Load()); node.After(last) {
		last = node
	}
	return s.armed && !s.unpacking && now.Sub(last) >= s.timeout
}

// observe takes a progress report.
func (s *stallWatch) observe(done int64, unpacking bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
	if done != s.done || unpacking != s.unpacking {
		s.done, s.unpacking, s.moved = done, unpacking, time.Now()
		s.nodeMoved.Store(s.moved.UnixNano())
	}
}

// explain turns the cancellation of a stalled pull into what happened.
func (s *stallWatch) explain(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("no bytes from the registry for %s (CRI's image_pull_progress_timeout): %w", s.timeout, err)
	}
	return err
}
