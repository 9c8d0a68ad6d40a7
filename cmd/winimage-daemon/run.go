package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/winimage-io/kubectl-winimage/daemon/agent"
	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

func run(ctx context.Context, args []string) error {
	c := agent.DefaultConfig()
	fs := flag.NewFlagSet(contract.CommandRun, flag.ContinueOnError)
	addContainerd(fs, &c.Containerd)
	addIdentity(fs, &c.Identity)
	fs.StringVar(&c.ImageList, contract.FlagImages, c.ImageList, "image list (the mounted ConfigMap)")
	fs.StringVar(&c.StateFile, "state-file", c.StateFile, "where progress is written for the readiness probe")
	fs.StringVar(&c.PullSecretsDir, contract.FlagPullSecretsDir, "", "folder of mounted dockerconfigjson pull secrets (one sub-folder each)")
	fs.IntVar(&c.ParallelPulls, "parallel-pulls", c.ParallelPulls, "pulls at once; images sharing a base wait until the first of them has it")
	fs.Float64Var(&c.DiskThreshold, contract.FlagDiskThreshold, c.DiskThreshold, fmt.Sprintf("skip an image that would fill containerd's volume above this fraction; keep it below kubelet's eviction line (%g); 1 turns the guard off", contract.EvictionDiskLine))
	fs.DurationVar(&c.PublishInterval, "publish-interval", c.PublishInterval, "least time between progress updates on the pod")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", c.ProgressInterval, "least time between updates that only move a pull's byte counts")
	fs.DurationVar(&c.ListInterval, "list-interval", c.ListInterval, "how often the image list is checked for changes (a change counts once two checks in a row read it)")
	fs.DurationVar(&c.RecheckInterval, "recheck-interval", c.RecheckInterval, "mean time between checks of warm images (a HEAD per tag: moved tags; ±25% jitter)")
	fs.DurationVar(&c.RetryInterval, "retry-interval", c.RetryInterval, "time before a pass that left an image Failed is tried again")
	fs.IntVar(&c.MaxAttempts, "max-attempts", c.MaxAttempts, "tries at an image per pass before it is Failed until the next recheck")
	fs.DurationVar(&c.MinBackoff, "min-backoff", c.MinBackoff, "wait before the first retry, doubling to 30 s, jittered")
	fs.DurationVar(&c.PullProgressTimeout, "pull-progress-timeout", c.PullProgressTimeout, "cancel and retry a pull whose download has not moved for this long (CRI's image_pull_progress_timeout)")
	fs.IntVar(&c.MaxConcurrentNodes, contract.FlagMaxConcurrentNodes, 0, "nodes pulling at once cluster-wide, coordinated through Leases (0: no limit)")
	fs.StringVar(&c.SlotLeasePrefix, "slot-lease-prefix", c.SlotLeasePrefix, "name prefix of the pull-slot Leases")
	fs.BoolVar(&c.DiscardUnpackedLayers, contract.FlagDiscardUnpackedLayers, false, "the node's containerd sets discard_unpacked_layers: pull as its CRI does, letting layer blobs go once unpacked")
	fs.StringVar(&c.StartupTaint, contract.FlagStartupTaint, "", "taint key lifted from the node after the first warm pass ends")
	fs.DurationVar(&c.StartupTaintTimeout, contract.FlagStartupTaintTimeout, c.StartupTaintTimeout, "lift the startup taint this long after the node joined, warm or not (0: never by time)")
	if err := parse(fs, args); err != nil {
		return err
	}
	c.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	return agent.Run(ctx, c)
}
