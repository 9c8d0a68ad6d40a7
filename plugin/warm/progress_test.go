package warm

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func statusOf(nodes ...NodeStatus) *StatusReport {
	r := &StatusReport{Nodes: nodes}
	for _, n := range nodes {
		r.Summary.Nodes++
		switch n.State {
		case NodeReady:
			r.Summary.Ready++
		case NodeFailed:
			r.Summary.Failed++
		default:
			r.Summary.Warming++
		}
	}
	return r
}

func TestLineViewPrintsAStateChangeOnce(t *testing.T) {
	var buf bytes.Buffer
	v := NewLineView(&buf)
	v.Update(statusOf(NodeStatus{Node: "n1", State: NodeWarming, Total: 2, BytesTotal: 10 << 20}))
	v.Update(statusOf(NodeStatus{Node: "n1", State: NodeWarming, Total: 2, BytesDone: 5 << 20, BytesTotal: 10 << 20}))
	v.Update(statusOf(NodeStatus{Node: "n1", State: NodeFailed, Ready: 1, Total: 2, BytesDone: 5 << 20, BytesTotal: 10 << 20,
		Failures: []contract.ImageState{{Ref: "r/b:1", State: contract.Failed, Reason: "not found (404)"}}}))
	v.Stop()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"n1: Warming, 0/2 images, 0Mi/10Mi", "n1: Failed, 1/2 images, 5Mi/10Mi; r/b:1 Failed: not found (404)"}
	if len(lines) != len(want) || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("lines:\n%s", buf.String())
	}
}

func TestBarViewDrawsEachNodeAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		v := NewBarView(&buf, mpb.WithAutoRefresh(), mpb.WithWidth(200), mpb.WithRefreshRate(10*time.Millisecond))
		v.Update(statusOf(NodeStatus{Node: "node-a", State: NodeWarming, Total: 2, BytesDone: 1, BytesTotal: 4},
			NodeStatus{Node: "node-b", State: NodeWarming, Total: 2}))
		time.Sleep(50 * time.Millisecond)
		v.Update(statusOf(NodeStatus{Node: "node-a", State: NodeReady, Ready: 2, Total: 2, BytesDone: 4, BytesTotal: 4},
			NodeStatus{Node: "node-b", State: NodeFailed, Ready: 1, Total: 2, Failures: []contract.ImageState{{Ref: "r/b:1", Reason: "denied"}}}))
		done := make(chan struct{})
		go func() { v.Stop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Stop did not return")
		}
		out := buf.String()
		for _, s := range []string{"node-a", "Ready", "2/2 images", "node-b", "r/b:1: denied", "1 ready, 0 warming, 1 failed"} {
			if !strings.Contains(out, s) {
				t.Errorf("no %q in the drawing:\n%s", s, out)
			}
		}
	})
}

func TestFractionIsNeverCompleteBeforeReady(t *testing.T) {
	if f := fraction(NodeStatus{BytesDone: 10, BytesTotal: 10, Ready: 1, Total: 2}); f != barScale-1 {
		t.Errorf("all bytes in but an image unpacking: %d", f)
	}
	if f := fraction(NodeStatus{Ready: 1, Total: 2}); f != barScale/2 {
		t.Errorf("by images: %d", f)
	}
}

// A node writes its failures' text: neither view lets it reach the
// terminal raw or forge a line.
func TestViewsEscapeWhatTheNodeWrote(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hostile := "\x1b]0;pwned\a\x1b[2J\rall 3 nodes warm\nforged"
		report := statusOf(NodeStatus{Node: "n1", State: NodeFailed, Total: 1,
			Failures: []contract.ImageState{{Ref: "r/a:1" + hostile, State: contract.State("Failed" + hostile), Reason: hostile}}})
		var lines bytes.Buffer
		v := NewLineView(&lines)
		v.Update(report)
		v.Stop()
		want := "n1: Failed, 0/1 images, 0Mi/0Mi; r/a:1^[]0;pwned^G^[[2J... Failed^[]0;pwned^G^[[2J...: ^[]0;pwned^G^[[2J...\n"
		if lines.String() != want {
			t.Errorf("line view:\n%q\nwant\n%q", lines.String(), want)
		}

		var bars bytes.Buffer
		b := NewBarView(&bars, mpb.WithAutoRefresh(), mpb.WithWidth(300), mpb.WithRefreshRate(10*time.Millisecond))
		b.Update(report)
		time.Sleep(50 * time.Millisecond)
		b.Stop()
		if out := bars.String(); strings.ContainsAny(out, "\a") || strings.Contains(out, "\x1b]0;pwned") || strings.Contains(out, "forged") ||
			!strings.Contains(out, "r/a:1^[]0;pwned^G^[[2J...: ^[]0;pwned^G^[[2J...") {
			t.Errorf("bar view:\n%q", out)
		}
	})
}
