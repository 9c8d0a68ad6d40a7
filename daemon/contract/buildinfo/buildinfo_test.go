package buildinfo

import (
	"runtime"
	"testing"
)

func TestGetReflectsStampedValues(t *testing.T) {
	oldVersion, oldCommit := Version, Commit
	t.Cleanup(func() { Version, Commit = oldVersion, oldCommit })
	Version, Commit = "v1.2.3", "abc123"

	info := Get()
	if info.Version != "v1.2.3" || info.Commit != "abc123" {
		t.Fatalf("Get() = %+v, want the stamped version and commit", info)
	}
	if info.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Fatalf("platform = %q", info.Platform)
	}
}
