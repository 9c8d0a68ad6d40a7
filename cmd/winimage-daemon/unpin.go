package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/winimage-io/kubectl-winimage/daemon/agent"
	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// unpin removes this daemon's pins (for `warm remove --unpin`). With --hold
// it then stays: a DaemonSet pod that exits is restarted and would unpin
// again, forever.
func unpin(ctx context.Context, args []string) error {
	var c agent.UnpinConfig
	fs := flag.NewFlagSet(contract.CommandUnpin, flag.ContinueOnError)
	addContainerd(fs, &c.Containerd)
	addIdentity(fs, &c.Identity)
	fs.BoolVar(&c.RemoveUnused, contract.FlagUnpinRemoveUnused, false, "also delete images this daemon added that no container uses")
	fs.BoolVar(&c.Report, contract.FlagUnpinReport, false, "write the result on this pod (annotation "+contract.AnnotationUnpin+")")
	hold := fs.Bool(contract.FlagUnpinHold, false, "after success, stay until stopped")
	if err := parse(fs, args); err != nil {
		return err
	}
	result, err := agent.Unpin(ctx, c)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		return err
	}
	if *hold {
		<-ctx.Done()
	}
	return nil
}
