package contract

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// However many images fail and however long their errors, the document a
// daemon publishes fits its pod's annotations, says how many images it
// left out, and keeps every failure it can.
func TestProgressAlwaysFits(t *testing.T) {
	long := strings.Repeat("<html>400 Bad Request \x1b[2J ", 3000) // ~80 KiB, a registry's error page
	cases := map[string]Progress{
		"60 images behind an error page": progressOf(60, func(i int) ImageState {
			return ImageState{Ref: fmt.Sprintf("r.example/app-%d:1", i), State: Failed, Reason: long}
		}),
		"1,100 warm images": progressOf(1100, func(i int) ImageState {
			return ImageState{Ref: fmt.Sprintf("r.example/%s/app-%04d:1", strings.Repeat("p", 60), i), Digest: "sha256:" + strings.Repeat("a", 64), State: Ready, BytesDone: 1 << 30, BytesTotal: 1 << 30}
		}),
		"4,000 failed long references": progressOf(4000, func(i int) ImageState {
			return ImageState{Ref: fmt.Sprintf("r.example/%s/app-%04d:1", strings.Repeat("p", 200), i), State: Failed, Reason: long}
		}),
	}
	for name, p := range cases {
		p.Warnings = []string{long, long}
		fit := p.Fit()
		data, _ := json.Marshal(fit)
		if len(data) > MaxDocumentBytes {
			t.Errorf("%s: %d bytes", name, len(data))
		}
		if len(fit.Images)+fit.Omitted() != len(p.Images) || fit.Total != p.Total || fit.Ready != p.Ready {
			t.Errorf("%s: %d shown + %d left out of %d", name, len(fit.Images), fit.Omitted(), len(p.Images))
		}
		for _, img := range fit.Images {
			if len(img.Reason) > MaxTextBytes {
				t.Errorf("%s: a reason of %d bytes", name, len(img.Reason))
			}
		}
		if back, err := ParseProgress(string(data)); err != nil || back.Omitted() != fit.Omitted() {
			t.Errorf("%s: read back %v, %v", name, back.Omitted(), err)
		}
	}
	// Ready images go first, so failures stay visible.
	mixed := progressOf(3000, func(i int) ImageState {
		s := ImageState{Ref: fmt.Sprintf("r.example/%s/app-%04d:1", strings.Repeat("p", 100), i), State: Ready}
		if i%100 == 0 {
			s.State, s.Reason = Failed, "pull: 404"
		}
		return s
	}).Fit()
	if mixed.OmittedOther != 0 || len(mixed.Images) == 0 || mixed.Images[0].State != Failed {
		t.Errorf("failures left out before ready images: %d other left out", mixed.OmittedOther)
	}
	small := progressOf(3, func(i int) ImageState { return ImageState{Ref: "r/a", State: Ready} })
	if fit := small.Fit(); fit.Omitted() != 0 || len(fit.Images) != 3 {
		t.Errorf("a small document was cut: %+v", fit)
	}
}

func TestUnpinResultAlwaysFits(t *testing.T) {
	r := UnpinResult{Node: "n", Error: strings.Repeat("e", 5000)}
	for i := range 5000 {
		r.Unpinned = append(r.Unpinned, fmt.Sprintf("r.example/%s/app-%04d:1", strings.Repeat("p", 100), i))
	}
	r.Removed = r.Unpinned[:100]
	fit := r.Fit()
	data, _ := json.Marshal(fit)
	if len(data) > MaxDocumentBytes || len(fit.Unpinned)+fit.MoreUnpinned != 5000 || len(fit.Removed)+fit.MoreRemoved != 100 || len(fit.Error) > MaxTextBytes {
		t.Errorf("%d bytes; unpinned %d+%d, removed %d+%d", len(data), len(fit.Unpinned), fit.MoreUnpinned, len(fit.Removed), fit.MoreRemoved)
	}
}

func progressOf(n int, image func(int) ImageState) Progress {
	p := Progress{Node: "n1", Pod: "p1"}
	for i := range n {
		img := image(i)
		p.Images = append(p.Images, img)
		if img.State == Ready {
			p.Ready++
		}
	}
	p.Total, p.Done = n, true
	return p
}
