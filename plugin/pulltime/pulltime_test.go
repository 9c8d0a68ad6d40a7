package pulltime

import (
	"testing"
	"time"
)

func TestParseKubeletMessages(t *testing.T) {
	p, ok := Parse(`Successfully pulled image "r.example/app:1" in 8m2.3s (8m9.1s including waiting). Image size: 8240000000 bytes.`)
	if !ok || p.Image != "r.example/app:1" || p.Duration != 8*time.Minute+2300*time.Millisecond || p.Waiting != 8*time.Minute+9100*time.Millisecond || p.Bytes != 8240000000 {
		t.Fatalf("Parse = %+v, %v", p, ok)
	}
	// Before 1.30 kubelet did not report the size.
	if p, ok := Parse(`Successfully pulled image "a:1" in 512ms (512ms including waiting)`); !ok || p.Bytes != 0 || p.Duration != 512*time.Millisecond {
		t.Fatalf("sizeless = %+v, %v", p, ok)
	}
	if _, ok := Parse(`Container image "a:1" already present on machine`); ok {
		t.Fatal("parsed an already-present message")
	}
}

func TestSummarize(t *testing.T) {
	stats := Summarize([]Pull{
		{Image: "a", Node: "n1", Duration: 4 * time.Minute, Bytes: 240e6},
		{Image: "a", Node: "n2", Duration: 2 * time.Minute, Bytes: 120e6},
		{Image: "a", Node: "n1", Duration: 3 * time.Minute},
		{Image: "b", Node: "n1", Duration: 10 * time.Second},
		{Image: "b", Node: "n1", Duration: 20 * time.Second},
	})
	if len(stats) != 2 || stats[0].Image != "a" {
		t.Fatalf("stats = %+v", stats)
	}
	a := stats[0]
	if a.Count != 3 || a.Median != 3*time.Minute || a.Max != 4*time.Minute || a.BytesPerSecond != 1e6 || len(a.Nodes) != 2 {
		t.Fatalf("a = %+v", a)
	}
	if stats[1].Median != 15*time.Second {
		t.Fatalf("even median = %v", stats[1].Median)
	}
}
