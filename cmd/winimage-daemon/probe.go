package main

import (
	"flag"
	"os"

	"github.com/winimage-io/kubectl-winimage/daemon/agent"
)

// probe is the readiness probe: ready means every listed image is Ready.
func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	state := fs.String("state-file", agent.DefaultStateFile(), "state file written by run")
	pod := fs.String("pod-name", os.Getenv("POD_NAME"), "this pod (downward API POD_NAME): a state file another pod wrote is not ready")
	if err := parse(fs, args); err != nil {
		return err
	}
	return agent.Probe(*state, *pod)
}
