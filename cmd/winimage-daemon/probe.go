package main

import (
	"flag"

	"github.com/winimage-io/kubectl-winimage/daemon/agent"
)

// probe is the readiness probe: ready means every listed image is Ready.
func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	state := fs.String("state-file", agent.DefaultStateFile(), "state file written by run")
	if err := parse(fs, args); err != nil {
		return err
	}
	return agent.Probe(*state)
}
