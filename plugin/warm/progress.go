package warm

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

// ProgressView shows a stream of status reports as they come.
type ProgressView interface {
	Update(r *StatusReport)
	// Stop ends the display; the last report stays on screen.
	Stop()
}

// NewLineView prints one line per node each time its state, image count
// or failures change: for logs and pipes, where redrawing makes no sense.
func NewLineView(w io.Writer) ProgressView {
	return &lineView{w: w, last: map[string]string{}}
}

type lineView struct {
	w    io.Writer
	last map[string]string
}

func (v *lineView) Update(r *StatusReport) {
	for _, n := range r.Nodes {
		// The failures' text is the node's: escaped, so a reason cannot
		// forge a line or move the cursor.
		line := fmt.Sprintf("%s: %s, %d/%d images, %s/%s", n.Node, terminal.Cell(n.State), n.Ready, n.Total, mib(n.BytesDone), mib(n.BytesTotal))
		for _, f := range n.Failures {
			line += fmt.Sprintf("; %s %s: %s", terminal.Cell(f.Ref), terminal.Cell(string(f.State)), terminal.Cell(f.Reason))
		}
		// Bytes alone move too often for a log; a line per state change.
		key := fmt.Sprintf("%s %d/%d %d", n.State, n.Ready, n.Total, len(n.Failures))
		if v.last[n.Node] != key {
			v.last[n.Node] = key
			fmt.Fprintln(v.w, line)
		}
	}
}

func (v *lineView) Stop() {}

// maxBars bounds the per-node bars on a terminal; a large fleet gets the
// overall bar and the status table at the end instead.
const maxBars = 20

// barScale is the resolution of a node's bar.
const barScale = 1000

// NewBarView draws a bar per node (up to maxBars) and one for the fleet,
// redrawn in place: for a person at a terminal.
func NewBarView(w io.Writer, opts ...mpb.ContainerOption) ProgressView {
	v := &barView{bars: map[string]*nodeBar{}}
	v.progress = mpb.New(append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithWidth(30)}, opts...)...)
	return v
}

type barView struct {
	progress *mpb.Progress
	overall  *mpb.Bar
	bars     map[string]*nodeBar

	mu      sync.Mutex
	summary string
}

type nodeBar struct {
	bar *mpb.Bar
	mu  sync.Mutex
	txt string
}

func (b *nodeBar) text() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.txt
}

func (v *barView) Update(r *StatusReport) {
	v.mu.Lock()
	s := r.Summary
	v.summary = fmt.Sprintf("%d ready, %d warming, %d failed, %d without a daemon pod", s.Ready, s.Warming, s.Failed, s.NoDaemon)
	v.mu.Unlock()
	if v.overall == nil {
		v.overall = v.progress.AddBar(int64(s.Nodes), mpb.BarPriority(-1),
			mpb.PrependDecorators(decor.Name("nodes", decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				v.mu.Lock()
				defer v.mu.Unlock()
				return v.summary
			})))
	}
	v.overall.SetTotal(int64(s.Nodes), false)
	v.overall.SetCurrent(int64(s.Ready + s.Failed))

	for _, n := range r.Nodes {
		nb := v.bars[n.Node]
		if nb == nil {
			if len(v.bars) >= maxBars {
				continue
			}
			nb = &nodeBar{}
			nb.bar = v.progress.AddBar(barScale,
				mpb.PrependDecorators(decor.Name(n.Node, decor.WCSyncSpaceR)),
				mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return nb.text() })))
			v.bars[n.Node] = nb
		}
		txt := fmt.Sprintf("%-8s %d/%d images  %s/%s", terminal.Cell(n.State), n.Ready, n.Total, mib(n.BytesDone), mib(n.BytesTotal))
		if len(n.Failures) > 0 {
			var refs []string
			for _, f := range n.Failures {
				refs = append(refs, terminal.Cell(f.Ref)+": "+terminal.Cell(f.Reason))
			}
			txt += "  " + strings.Join(refs, "; ")
		}
		nb.mu.Lock()
		nb.txt = txt
		nb.mu.Unlock()
		switch n.State {
		case NodeReady:
			nb.bar.SetCurrent(barScale)
		case NodeFailed:
			nb.bar.Abort(false)
		default:
			nb.bar.SetCurrent(fraction(n))
		}
	}
}

// fraction is how far a node is, by bytes when the daemon knows them, else
// by images, never complete before the node is Ready.
func fraction(n NodeStatus) int64 {
	var f int64
	switch {
	case n.BytesTotal > 0:
		f = n.BytesDone * barScale / n.BytesTotal
	case n.Total > 0:
		f = int64(n.Ready) * barScale / int64(n.Total)
	}
	return min(f, barScale-1)
}

func (v *barView) Stop() {
	if v.overall != nil {
		v.overall.SetTotal(-1, true)
	}
	for _, nb := range v.bars {
		nb.bar.Abort(false)
	}
	v.progress.Wait()
}
