// Package eventually waits, in tests, for what the code under test reaches
// in its own time: a daemon's report, a taint gone, a line printed. One
// helper instead of a deadline loop per test, polling with apimachinery's
// wait package as client-go's own tests do. Unit tests of timing logic use
// testing/synctest instead, and wait for nothing.
package eventually

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Interval is how often a condition is checked: often enough that a test
// does not wait long past the moment, rarely enough that polling the API
// server or a file costs nothing.
const Interval = 50 * time.Millisecond

// Within checks cond now and every Interval until it holds or timeout
// passes, and returns whether it held. The caller decides what a timeout
// means (often: assert on the last state).
func Within(timeout time.Duration, cond func() bool) bool {
	err := wait.PollUntilContextTimeout(context.Background(), Interval, timeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	return err == nil
}

// True is Within that fails the test, naming what it waited for, when
// timeout passes first.
func True(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
