package noderuntime

import "testing"

func TestDefaultsForWindowsUsePipeAndWindowsSnapshotter(t *testing.T) {
	got := DefaultsFor("windows")
	if got.Address != `\\.\pipe\containerd-containerd` || got.Snapshotter != "windows" {
		t.Fatalf("DefaultsFor(windows) = %+v", got)
	}
}

func TestDefaultsForLinuxUseSocketAndOverlayfs(t *testing.T) {
	got := DefaultsFor("linux")
	if got.Address != "/run/containerd/containerd.sock" || got.Snapshotter != "overlayfs" {
		t.Fatalf("DefaultsFor(linux) = %+v", got)
	}
}
