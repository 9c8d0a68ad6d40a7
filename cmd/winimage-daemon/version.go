package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/winimage-io/kubectl-winimage/daemon/buildinfo"
)

func version(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	var rf runtimeFlags
	rf.add(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	client, err := rf.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	v, err := client.Version(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(struct {
		Daemon     buildinfo.Info `json:"daemon"`
		Containerd string         `json:"containerd"`
	}{buildinfo.Get(), v.Version})
}
