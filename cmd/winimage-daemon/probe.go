package main

import (
	"flag"
	"fmt"

	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// probe is the readiness probe: ready means every listed image is Ready.
func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	state := fs.String("state-file", defaultStateFile(), "state file written by run")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := report.ReadState(inSandbox(*state))
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	if !p.AllReady() {
		return fmt.Errorf("not ready: %d of %d images ready", p.Ready, p.Total)
	}
	return nil
}
