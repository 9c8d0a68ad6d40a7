package contract

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseAnnotationsRefuseWhatTheAPIServerWouldNotStore(t *testing.T) {
	big := `{"node":"` + strings.Repeat("n", MaxAnnotationBytes) + `"}`
	if _, err := ParseProgress(big); err == nil || !strings.Contains(err.Error(), "over the API server's") {
		t.Errorf("an oversized progress document: %v", err)
	}
	if _, err := ParseUnpinResult(big); err == nil {
		t.Error("an oversized unpin result was read")
	}
	if _, err := ParseProgress(`{"images": 3}`); err == nil || !strings.Contains(err.Error(), AnnotationProgress) {
		t.Errorf("a malformed progress document: %v", err)
	}
	p, err := ParseProgress(`{"node":"n1","ready":1,"total":2,"done":false,"images":[{"ref":"r/a:1","state":"Ready"}]}`)
	if err != nil || p.Node != "n1" || p.Ready != 1 || len(p.Images) != 1 {
		t.Errorf("a good document: %+v, %v", p, err)
	}
}

// Whatever a node writes, parsing never panics, and a document that parses
// encodes the same after a round trip through its own JSON (compared as
// JSON: omitempty turns an empty list into none).
func FuzzParseProgress(f *testing.F) {
	good, _ := json.Marshal(Progress{Node: "n1", Pod: "p", Updated: time.Unix(1700000000, 0).UTC(), Warnings: []string{"w"},
		Snapshot: Snapshot{Images: []ImageState{{Ref: "r/a:1", State: Ready}}, Ready: 1, Total: 1, Done: true}})
	for _, s := range []string{string(good), `{}`, `{"images":null}`, `[`, `{"updated":"not a time"}`, `{"images":[{"bytesDone":-1}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkRoundTrip(t, raw, ParseProgress) })
}

// checkRoundTrip: a document parse accepts encodes the same after a trip
// through its own JSON.
func checkRoundTrip[T any](t *testing.T, raw string, parse func(string) (T, error)) {
	t.Helper()
	doc, err := parse(raw)
	if err != nil {
		return
	}
	again, err := json.Marshal(doc)
	if err != nil {
		return // a time the encoder cannot write (a year past 9999)
	}
	back, err := parse(string(again))
	if err != nil {
		t.Fatalf("%q: its own encoding %s does not parse: %v", raw, again, err)
	}
	if twice, _ := json.Marshal(back); !bytes.Equal(again, twice) {
		t.Fatalf("%q: round trip %s became %s", raw, again, twice)
	}
}

func FuzzParseUnpinResult(f *testing.F) {
	for _, s := range []string{`{"node":"n1","unpinned":["r/a:1"],"finished":"2026-01-01T00:00:00Z"}`, `{"error":"x"}`, `null`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) { checkRoundTrip(t, raw, ParseUnpinResult) })
}
