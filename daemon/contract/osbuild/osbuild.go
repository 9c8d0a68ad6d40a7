// Package osbuild parses Windows OS versions (10.0.20348.2340) and decides
// which container image builds a Windows host can run under process
// isolation, with the same rule as containerd's platform matcher.
package osbuild

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Version is a Windows version: major.minor.build.revision (UBR).
type Version struct {
	Major, Minor, Build, Revision int
}

// Parse reads "10.0.20348" or "10.0.20348.2340".
func Parse(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 3 || len(parts) > 4 {
		return Version{}, fmt.Errorf("windows version %q is not major.minor.build[.revision]", s)
	}
	var nums [4]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("windows version %q: %q is not a number", s, p)
		}
		nums[i] = n
	}
	return Version{nums[0], nums[1], nums[2], nums[3]}, nil
}

// BuildString is major.minor.build, the node.kubernetes.io/windows-build label.
func (v Version) BuildString() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Build) }

// HostPlatform is the platform of a node: windows/amd64 with the node's
// kernel version as os.version, or linux/<arch>.
func HostPlatform(os, arch, kernelVersion string) ocispec.Platform {
	if arch == "" {
		arch = "amd64"
	}
	p := ocispec.Platform{OS: os, Architecture: arch}
	if os == "windows" {
		p.OSVersion = kernelVersion
	}
	return p
}

// Pick returns the index of the entry containerd on host would pull, or -1
// if none can run there. Matching is containerd's own matcher: on Windows,
// process isolation needs the exact build before Server 2022 and a build
// from 20348 up to the host's from then on, and an entry without os.version
// matches any host. Among matches, a Windows node's containerd 2.x
// (platforms.Default there) prefers the greater os.version string; elsewhere
// the index order decides. That preference is only wired in on Windows
// builds of containerd/platforms, so it is restated here for Windows hosts.
// Nodes on containerd 1.7 take the first match: see PickFor and Rule.
func Pick(host ocispec.Platform, entries []ocispec.Platform) int {
	return PickFor(host, entries, HighestOSVersion)
}

// Matcher is the platform matcher of a node's containerd, for pulls made on
// its behalf: containerd's own matching, with a Windows host's preference
// for the greatest os.version among matches.
func Matcher(host ocispec.Platform) platforms.MatchComparer {
	return MatcherFor(host, HighestOSVersion)
}

type windowsMatcher struct{ platforms.MatchComparer }

func (w windowsMatcher) Less(a, b ocispec.Platform) bool { return a.OSVersion > b.OSVersion }
