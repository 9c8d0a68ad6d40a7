package audit

import (
	"slices"
	"testing"
)

func TestTopImagesByPodsThenSizeSkippingFailures(t *testing.T) {
	r := &Report{Images: []Image{
		{Ref: "small", Pods: 3, Platforms: []PlatformSize{{Size: 10}}},
		{Ref: "big", Pods: 3, Platforms: []PlatformSize{{Size: 5}, {Size: 900}}},
		{Ref: "busy", Pods: 9},
		{Ref: "broken", Pods: 20, Error: "404"},
		{Ref: "rare", Pods: 1},
	}}
	if got := TopImages(r, 3); !slices.Equal(got, []string{"busy", "big", "small"}) {
		t.Fatalf("top 3: %v", got)
	}
	if got := TopImages(r, 10); len(got) != 4 {
		t.Fatalf("top 10 of 4 usable: %v", got)
	}
}
