package bench

import (
	"os"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/gobuild"
)

// TestMain removes the binaries built for the benchmarks once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Cleanup()
	os.Exit(code)
}
