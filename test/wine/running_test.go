package wine

import (
	"os"
	"testing"
)

// The runner sets ExpectEnv, so a Running that stopped seeing Wine (and
// with it every named skip) fails here instead of going unnoticed.
func TestRunningSeesWine(t *testing.T) {
	want := os.Getenv(ExpectEnv) == "1"
	if got := Running(); got != want {
		t.Errorf("Running() = %v, want %v (%s=%q)", got, want, ExpectEnv, os.Getenv(ExpectEnv))
	}
}
