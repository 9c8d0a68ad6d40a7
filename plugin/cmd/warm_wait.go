package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
	"github.com/winimage-io/kubectl-winimage/plugin/warm"
)

// waitForNodes follows the daemons until every selected node is ready or
// failed. Whatever ends the wait, the DaemonSet stays: it is declarative
// and keeps warming (and warms new nodes) without this process.
func (o *WarmOptions) waitForNodes(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, o.Timeout)
	defer cancel()
	view := warm.NewLineView(terminal.NewWriter(o.Out))
	if f, ok := o.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		view = warm.NewBarView(o.Out)
	}
	var last *warm.StatusReport
	err := warm.Follow(ctx, o.client, o.cfg.Namespace, warm.NodeSelector(o.cfg.OS, o.cfg.NodeSelector), func(r *warm.StatusReport) bool {
		last = r
		view.Update(r)
		return r.Settled() || r.Summary.Nodes == 0
	})
	view.Stop()
	if last != nil {
		fmt.Fprintln(o.Out)
		if perr := warm.PrintStatus(terminal.NewWriter(o.Out), last, true); perr != nil {
			return perr
		}
	}
	follow := fmt.Sprintf("follow it with: kubectl winimage warm status -w -n %s; remove it with: kubectl winimage warm remove -n %s", o.cfg.Namespace, o.cfg.Namespace)
	switch {
	case parent.Err() != nil:
		fmt.Fprintf(o.ErrOut, "interrupted: the DaemonSet stays and keeps warming; %s\n", follow)
		return &ExitError{Code: ExitInterrupted, Err: errors.New("interrupted")}
	case errors.Is(err, context.DeadlineExceeded):
		ready := 0
		if last != nil {
			ready = last.Summary.Ready
		}
		return fmt.Errorf("not settled after %s (%d of %d nodes ready); the DaemonSet stays; %s", o.Timeout, ready, nodesIn(last), follow)
	case err != nil:
		return err
	case last.Summary.Nodes == 0:
		return fmt.Errorf("no %s node matches the DaemonSet's selector; it stays and warms nodes as they join; %s", o.cfg.OS, follow)
	case last.Summary.Failed > 0:
		return &ExitError{Code: ExitImagesFailed, Err: fmt.Errorf("%d of %d nodes have images that failed (reasons above)", last.Summary.Failed, last.Summary.Nodes)}
	}
	fmt.Fprintf(o.Out, "all %d nodes warm\n", last.Summary.Nodes)
	return nil
}

func nodesIn(r *warm.StatusReport) int {
	if r == nil {
		return 0
	}
	return r.Summary.Nodes
}
