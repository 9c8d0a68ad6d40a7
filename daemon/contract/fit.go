package contract

import (
	"encoding/json"
	"unicode/utf8"
)

// A daemon's documents travel as annotations on its pod, and the API
// server refuses an object whose annotations pass MaxAnnotationBytes in
// all: a document over it would make every publish fail, and `warm --wait`
// would never settle. What fills one comes from outside (a registry's
// error body in a reason, a list of thousands of images), so each document
// is cut to fit before it is written.
const (
	// MaxDocumentBytes is what one document may take, leaving the rest of
	// the pod's budget to the other document and to annotations others add
	// (kubectl rollout restart, policy agents).
	MaxDocumentBytes = 96 << 10
	// MaxTextBytes bounds one reason, warning or error.
	MaxTextBytes = 512
	// maxWarnings bounds the warnings of one document.
	maxWarnings = 16
)

// Fit returns p cut to fit MaxDocumentBytes: texts cut to MaxTextBytes,
// warnings to maxWarnings; if still over, entries of Ready images are left
// out (counted in OmittedReady), then others from the end (OmittedOther).
// Ready and Total keep counting every image.
func (p Progress) Fit() Progress {
	p.Warnings = fitTexts(p.Warnings)
	images := make([]ImageState, len(p.Images))
	for i, img := range p.Images {
		img.Reason = CutText(img.Reason)
		images[i] = img
	}
	p.Images = images
	size := jsonSize(p)
	if size <= MaxDocumentBytes {
		return p
	}
	drop := make([]bool, len(images))
	for _, ready := range []bool{true, false} {
		for i := len(images) - 1; i >= 0 && size > MaxDocumentBytes; i-- {
			if drop[i] || (images[i].State == Ready) != ready {
				continue
			}
			drop[i], size = true, size-jsonSize(images[i])-1
			if ready {
				p.OmittedReady++
			} else {
				p.OmittedOther++
			}
		}
	}
	kept := images[:0]
	for i, img := range images {
		if !drop[i] {
			kept = append(kept, img)
		}
	}
	p.Images = kept
	return p
}

// Omitted is how many images Fit left out of Images.
func (s Snapshot) Omitted() int { return s.OmittedReady + s.OmittedOther }

// Fit returns r cut to fit MaxDocumentBytes: the error cut to
// MaxTextBytes, then the record lists from the end (their lengths kept in
// MoreUnpinned and MoreRemoved).
func (r UnpinResult) Fit() UnpinResult {
	r.Error = CutText(r.Error)
	r.Unpinned, r.Removed = append([]string(nil), r.Unpinned...), append([]string(nil), r.Removed...)
	size := jsonSize(r)
	for _, list := range []struct {
		names *[]string
		more  *int
	}{{&r.Removed, &r.MoreRemoved}, {&r.Unpinned, &r.MoreUnpinned}} {
		for len(*list.names) > 0 && size > MaxDocumentBytes {
			last := (*list.names)[len(*list.names)-1]
			*list.names = (*list.names)[:len(*list.names)-1]
			*list.more++
			size -= jsonSize(last) + 1
		}
	}
	return r
}

// CutText cuts s to MaxTextBytes on a character boundary, marking the cut.
func CutText(s string) string {
	if len(s) <= MaxTextBytes {
		return s
	}
	cut := MaxTextBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func fitTexts(texts []string) []string {
	if len(texts) > maxWarnings {
		texts = append(texts[:maxWarnings-1:maxWarnings-1], "and more warnings")
	}
	out := make([]string, len(texts))
	for i, t := range texts {
		out[i] = CutText(t)
	}
	return out
}

// jsonSize is v's length as JSON. What the daemon publishes is plain data,
// which always encodes.
func jsonSize(v any) int {
	data, _ := json.Marshal(v)
	return len(data)
}
