// Command winimage-daemon is the node agent that `kubectl winimage warm`
// deploys as a DaemonSet.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	goruntime "runtime"
	"syscall"

	"github.com/winimage-io/kubectl-winimage/daemon/runtime"
	"github.com/winimage-io/kubectl-winimage/plugin/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "version" {
		return fmt.Errorf("usage: winimage-daemon version [--containerd-address ADDR]")
	}
	defaults := runtime.DefaultsFor(goruntime.GOOS)
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	address := fs.String("containerd-address", defaults.Address, "containerd gRPC address")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	report := struct {
		Daemon     buildinfo.Info `json:"daemon"`
		Containerd string         `json:"containerd"`
	}{Daemon: buildinfo.Get()}
	client, err := runtime.Connect(ctx, *address)
	if err != nil {
		return err
	}
	defer client.Close()
	v, err := client.Version(ctx)
	if err != nil {
		return err
	}
	report.Containerd = v.Version
	return json.NewEncoder(os.Stdout).Encode(report)
}
