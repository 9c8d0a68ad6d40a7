// Command kubectl-winimage is the kubectl plugin; kubectl finds it on PATH and
// runs it as `kubectl winimage`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/winimage-io/kubectl-winimage/plugin/cmd"
	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := cmd.NewCmdRoot(streams).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", terminal.Line(err.Error()))
		os.Exit(cmd.ExitCode(err))
	}
}
