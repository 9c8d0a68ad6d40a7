package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/winimage-io/kubectl-winimage/daemon/agent"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo"
)

func version(ctx context.Context, args []string) error {
	var c agent.Containerd
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	addContainerd(fs, &c)
	if err := parse(fs, args); err != nil {
		return err
	}
	v, err := agent.ContainerdVersion(ctx, c)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(struct {
		Daemon     buildinfo.Info `json:"daemon"`
		Containerd string         `json:"containerd"`
	}{buildinfo.Get(), v})
}
