// Command winimage-daemon is the node agent that `kubectl winimage warm`
// deploys as a DaemonSet: it pulls the listed images into the node's
// containerd (namespace k8s.io, as kubelet's CRI does), pins them against
// kubelet's image GC, and publishes its progress on its own pod.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dispatch(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

const usage = `usage: winimage-daemon COMMAND [flags]
  run      warm the listed images and keep them warm (the DaemonSet's command)
  probe    exit 0 once the pass settled every image (the readiness probe);
           with --liveness, while the daemon's heartbeat is fresh
  unpin    remove this daemon's pins (and with --remove-unused, its unused images), then exit
  version  print the daemon and containerd versions`

func dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch args[0] {
	case contract.CommandRun:
		return run(ctx, args[1:])
	case contract.CommandProbe:
		return probe(args[1:])
	case contract.CommandUnpin:
		return unpin(ctx, args[1:])
	case "version":
		return version(ctx, args[1:])
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
