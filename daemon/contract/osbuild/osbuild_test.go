package osbuild

import (
	"fmt"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in              string
		build, revision int
		bad             bool
	}{
		{in: "10.0.20348.2340", build: 20348, revision: 2340},
		{in: "10.0.17763", build: 17763},
		{in: "", bad: true}, {in: "ltsc2022", bad: true}, {in: "10.0", bad: true},
		{in: "10.0.x.1", bad: true}, {in: "1.2.3.4.5", bad: true}, {in: "10.0.-1", bad: true},
	}
	for _, c := range cases {
		v, err := Parse(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("Parse(%q) accepted", c.in)
			}
			continue
		}
		if err != nil || v.Build != c.build || v.Revision != c.revision || v.BuildString() != fmt.Sprintf("10.0.%d", c.build) {
			t.Errorf("Parse(%q) = %+v, %v", c.in, v, err)
		}
	}
}

func win(v string) ocispec.Platform {
	return ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: v}
}

func TestPickFollowsProcessIsolationRules(t *testing.T) {
	cases := []struct {
		host, container string
		want            bool
	}{
		{"10.0.17763.5576", "10.0.17763.100", true},
		{"10.0.17763.5576", "10.0.20348.2340", false},
		{"10.0.20348.2340", "10.0.17763.5576", false},
		{"10.0.20348.2340", "10.0.20348.9", true},
		{"10.0.20348.2340", "10.0.26100.1742", false},
		{"10.0.26100.1742", "10.0.20348.2340", true},
		{"10.0.26100.1742", "10.0.26100.1742", true},
		{"10.0.26100.1742", "10.0.17763.5576", false},
	}
	for _, c := range cases {
		got := Pick(win(c.host), []ocispec.Platform{win(c.container)}) == 0
		if got != c.want {
			t.Errorf("host %s, container %s: runnable = %v, want %v", c.host, c.container, got, c.want)
		}
	}
}

func TestPickPrefersNewestMatchAndSkipsOtherOS(t *testing.T) {
	entries := []ocispec.Platform{
		{OS: "linux", Architecture: "amd64"},
		win("10.0.17763.5576"),
		win("10.0.20348.2340"),
		win("10.0.20348.2582"),
		win("10.0.26100.1742"),
	}
	if got := Pick(win("10.0.20348.2340"), entries); got != 3 {
		t.Errorf("20348 host picked %d, want the 20348.2582 entry (3)", got)
	}
	if got := Pick(win("10.0.26100.1742"), entries); got != 4 {
		t.Errorf("26100 host picked %d, want 4", got)
	}
	if got := Pick(win("10.0.17763.1"), entries); got != 1 {
		t.Errorf("17763 host picked %d, want 1", got)
	}
	if got := Pick(ocispec.Platform{OS: "linux", Architecture: "amd64"}, entries); got != 0 {
		t.Errorf("linux host picked %d, want 0", got)
	}
	if got := Pick(win("10.0.17763.1"), entries[2:]); got != -1 {
		t.Errorf("17763 host with only newer entries picked %d, want -1", got)
	}
}
