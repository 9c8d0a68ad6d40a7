package osbuild

import (
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/containerdversion"
)

// Rule is how a node's containerd chooses among the index entries that
// match it: the CRI plugin pulls with platforms.Default(), whose order
// changed between the containerd lines EKS ships on Windows.
type Rule int

const (
	// HighestOSVersion: containerd 2.3 and later. platforms v1.0.0-rc.2
	// (what containerd v2.1.9 requires) defaults_windows.go Default() is a
	// windowsMatchComparer whose Less puts the greater os.version first.
	// A 2.x CRI pull through the Transfer service filters with
	// platforms.Ordered(DefaultSpec()) instead (v2.1.9
	// internal/cri/server/images/image_pull.go pullImageWithTransferService,
	// core/transfer/image/imagestore.go ImageFilter), which orders no two
	// matches, so every matching entry is fetched and unpacked
	// (core/unpack/unpacker.go); but the image CRI reports, and so the one
	// the node runs, is read through its image store built with
	// platforms.Default() (internal/cri/server/images/service.go,
	// internal/cri/store/image/image.go getImage): the highest. From
	// platforms v1.0.0-rc.3 (containerd v2.3.0 requires rc.4, v2.4.2 rc.5)
	// an entry's os.features must also be among the host's (platforms.go
	// matcher.Match), and a Windows host declares none; rc.4 and later
	// strip win32k first (windowsStripFeaturesMatcher).
	HighestOSVersion Rule = iota
	// FirstMatch: containerd 1.7. platforms v0.2.1 (what containerd v1.7.35
	// requires) defaults_windows.go Default() is Only(DefaultSpec()), an
	// orderedPlatformComparer whose Less never orders two matches, so the
	// stable sort keeps the index order and the first match is pulled.
	// os.features are not looked at.
	FirstMatch
	// HighestOSVersionAnyFeatures: containerd 2.0 to 2.2, as
	// HighestOSVersion, but platforms v1.0.0-rc.2 (containerd v2.1.9 and
	// v2.2.0) does not look at os.features.
	HighestOSVersionAnyFeatures
)

func (r Rule) String() string {
	switch r {
	case FirstMatch:
		return "first matching entry (containerd 1.x)"
	case HighestOSVersionAnyFeatures:
		return "highest os.version, os.features ignored (containerd 2.0-2.2)"
	}
	return "highest os.version (containerd 2.3+)"
}

// matchesFeatures: the rule's platforms library requires an entry's
// os.features to be the host's.
func (r Rule) matchesFeatures() bool { return r == HighestOSVersion }

// RuleOf is the rule of a node's containerd from its version as the Node
// reports it (containerd://1.7.27) or as containerd does (v2.1.4, 1.7.27).
// An unknown version gets the current rule.
func RuleOf(containerdVersion string) Rule {
	v, err := containerdversion.Parse(containerdVersion)
	switch {
	case err != nil:
		return HighestOSVersion
	case v.Major < 2:
		return FirstMatch
	case v.Major == 2 && v.Minor < 3:
		return HighestOSVersionAnyFeatures
	}
	return HighestOSVersion
}

// MatcherFor is the platform matcher of a node's containerd for host under
// rule, for pulls made on its behalf.
func MatcherFor(host ocispec.Platform, rule Rule) platforms.MatchComparer {
	var m platforms.MatchComparer = platforms.Only(host)
	switch {
	case host.OS != "windows":
	case rule == FirstMatch:
		m = firstMatch{windowsMatcher{m}}
	default:
		m = windowsMatcher{m}
	}
	if !rule.matchesFeatures() {
		m = anyFeatures{m}
	}
	return m
}

// anyFeatures matches as a platforms library that does not look at
// os.features: the entry is judged without them.
type anyFeatures struct{ platforms.MatchComparer }

func (a anyFeatures) Match(p ocispec.Platform) bool {
	p.OSFeatures = nil
	return a.MatchComparer.Match(p)
}

func (a anyFeatures) Less(x, y ocispec.Platform) bool {
	x.OSFeatures, y.OSFeatures = nil, nil
	return a.MatchComparer.Less(x, y)
}

// firstMatch matches as containerd's Windows matcher does and orders no two
// matches, as platforms v0.2.1's Default() does.
type firstMatch struct{ windowsMatcher }

func (f firstMatch) Less(a, b ocispec.Platform) bool { return f.Match(a) && !f.Match(b) }

// PickFor is Pick under rule.
func PickFor(host ocispec.Platform, entries []ocispec.Platform, rule Rule) int {
	m := MatcherFor(host, rule)
	best := -1
	for i, e := range entries {
		if !m.Match(e) {
			continue
		}
		if best < 0 || m.Less(e, entries[best]) {
			best = i
		}
	}
	return best
}
