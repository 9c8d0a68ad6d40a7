package osbuild

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRuleOf(t *testing.T) {
	cases := map[string]Rule{
		"containerd://1.7.27": FirstMatch, "1.6.36": FirstMatch, "v1.7.35": FirstMatch,
		"containerd://2.1.4": HighestOSVersionAnyFeatures, "v2.2.0": HighestOSVersionAnyFeatures,
		"v2.3.0": HighestOSVersion, "v2.4.2": HighestOSVersion, "": HighestOSVersion, "docker://28.2.2": HighestOSVersion,
	}
	for v, want := range cases {
		if got := RuleOf(v); got != want {
			t.Errorf("RuleOf(%q) = %v", v, got)
		}
	}
}

func TestPickForFollowsEachContainerdLine(t *testing.T) {
	host := HostPlatform("windows", "amd64", "10.0.20348.2582")
	win := func(v string) ocispec.Platform {
		return ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: v}
	}
	// Two entries run on a 20348 host; an older revision first.
	entries := []ocispec.Platform{win("10.0.17763.6893"), win("10.0.20348.1000"), win("10.0.20348.2582"), {OS: "linux", Architecture: "amd64"}}
	if got := PickFor(host, entries, FirstMatch); got != 1 {
		t.Errorf("containerd 1.7 picks %d, want the first match (1)", got)
	}
	if got := PickFor(host, entries, HighestOSVersion); got != 2 {
		t.Errorf("containerd 2.x picks %d, want the highest os.version (2)", got)
	}
	// The matcher the daemon pulls with orders entries the same way.
	m := MatcherFor(host, FirstMatch)
	if m.Less(entries[2], entries[1]) || m.Less(entries[1], entries[2]) || !m.Less(entries[1], entries[0]) {
		t.Error("first-match matcher orders two matches, or a match after a non-match")
	}
	if !MatcherFor(host, HighestOSVersion).Less(entries[2], entries[1]) {
		t.Error("2.x matcher does not put the higher os.version first")
	}
}

// An entry that declares os.features runs on a node whose containerd does
// not look at them, 1.7 and 2.0-2.2; from 2.3 on its platforms library
// wants them among the host's (a Windows host declares none), but for
// win32k, which it strips for compatibility (platforms v1.0.0-rc.4
// platforms.go windowsStripFeaturesMatcher).
func TestOSFeaturesMatchAsEachContainerdLineDoes(t *testing.T) {
	host := HostPlatform("windows", "amd64", "10.0.20348.2582")
	entry := func(features ...string) ocispec.Platform {
		return ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.2582", OSFeatures: features}
	}
	for rule, want := range map[Rule]bool{FirstMatch: true, HighestOSVersionAnyFeatures: true, HighestOSVersion: false} {
		if got := MatcherFor(host, rule).Match(entry("example.com/gpu")); got != want {
			t.Errorf("%s: an entry with a feature the host lacks matches %v, want %v", rule, got, want)
		}
		if got := PickFor(host, []ocispec.Platform{entry("example.com/gpu")}, rule) == 0; got != want {
			t.Errorf("%s: picked %v, want %v", rule, got, want)
		}
		if !MatcherFor(host, rule).Match(entry("win32k")) {
			t.Errorf("%s: a win32k entry does not match", rule)
		}
	}
}
