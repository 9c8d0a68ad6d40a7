package pass

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestStallWatchCancelsOnlyAStillDownload(t *testing.T) {
	const timeout = 500 * time.Millisecond
	cases := []struct {
		name      string
		feed      func(s *stallWatch, node *atomic.Int64)
		cancelled bool
	}{
		{"still after a first report", func(s *stallWatch, _ *atomic.Int64) { s.observe(10, false); time.Sleep(3 * timeout) }, true},
		{"no report yet: no plan, nothing to watch", func(*stallWatch, *atomic.Int64) { time.Sleep(3 * timeout) }, false},
		{"unpacking", func(s *stallWatch, _ *atomic.Int64) { s.observe(10, true); time.Sleep(3 * timeout) }, false},
		{"another pull on the node moving", func(s *stallWatch, node *atomic.Int64) {
			s.observe(10, false)
			for i := 0; i < 20; i++ {
				node.Store(time.Now().UnixNano())
				time.Sleep(timeout / 10)
			}
		}, false},
		{"its own bytes moving", func(s *stallWatch, _ *atomic.Int64) {
			for i := int64(0); i < 20; i++ {
				s.observe(i, false)
				time.Sleep(timeout / 10)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var node atomic.Int64
				ctx, s, stop := watchStalls(t.Context(), timeout, &node)
				defer stop()
				tc.feed(s, &node)
				if got := errors.Is(context.Cause(ctx), errStalled); got != tc.cancelled {
					t.Fatalf("cancelled for a stall: %v, want %v", got, tc.cancelled)
				}
				if tc.cancelled {
					err := s.explain(ctx, ctx.Err())
					if !strings.HasPrefix(err.Error(), "no bytes from the registry for 500ms") {
						t.Errorf("explained as %q", err)
					}
				}
			})
		})
	}
}
