package eventually

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestWithinChecksAtOnceThenEveryIntervalUntilTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		start := time.Now()
		if !Within(time.Second, func() bool { calls++; return true }) || calls != 1 || time.Since(start) != 0 {
			t.Fatalf("a condition that holds: %d calls, %s", calls, time.Since(start))
		}
		calls = 0
		held := Within(time.Second, func() bool { calls++; return time.Since(start) >= 300*time.Millisecond })
		if !held || time.Since(start) != 300*time.Millisecond {
			t.Fatalf("held %v after %s", held, time.Since(start))
		}
		start = time.Now()
		if Within(time.Second, func() bool { return false }) || time.Since(start) < time.Second || time.Since(start) > time.Second+Interval {
			t.Fatalf("a condition that never holds returned after %s", time.Since(start))
		}
	})
}
