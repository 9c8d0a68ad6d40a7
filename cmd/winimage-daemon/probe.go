package main

import (
	"flag"
	"os"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/agent"
	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// probe is the readiness probe (ready: this pod's pass has settled every
// image) or, with --liveness, the liveness probe (the daemon's heartbeat
// is fresh).
func probe(args []string) error {
	fs := flag.NewFlagSet(contract.CommandProbe, flag.ContinueOnError)
	state := fs.String("state-file", agent.DefaultStateFile(), "state file written by run")
	pod := fs.String("pod-name", os.Getenv("POD_NAME"), "this pod (downward API POD_NAME): a state file another pod wrote is not ready")
	liveness := fs.Bool("liveness", false, "check the daemon's heartbeat instead (the liveness probe)")
	maxAge := fs.Duration("max-age", 3*time.Minute, "with --liveness: the oldest heartbeat that still counts")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *liveness {
		return agent.Alive(*state, *maxAge, time.Now())
	}
	return agent.Probe(*state, *pod)
}
