//go:build linux

// Command rig builds and runs the test rig from the shell:
//
//	go run ./test/cmd/rig build
//	go run ./test/cmd/rig up --fleet FILE --dir DIR [--daemon BIN] [--exec CMD]... [--exit]
//
// `up` starts every component, applies the fleet, writes DIR/kubeconfig and
// DIR/rig.env, runs each --exec command (with KUBECONFIG set), and stays up
// until SIGINT or SIGTERM, then tears everything down.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/winimage-io/kubectl-winimage/test/fleet"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rig build | rig up --fleet FILE --dir DIR [--exec CMD]... [--exit]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "build":
		_, err = rig.Build(ctx, os.Stderr)
	case "up":
		err = up(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rig:", err)
		os.Exit(1)
	}
}

func up(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fleetFile := fs.String("fleet", "", "fleet file to apply")
	dir := fs.String("dir", "", "folder for the rig's files (kubeconfig, rig.env, logs)")
	exit := fs.Bool("exit", false, "tear down after the --exec commands instead of staying up")
	daemon := fs.String("daemon", "", "winimage-daemon binary the kubelet stand-in runs on the fleet's standIn nodes (each gets its own containerd)")
	var execs stringList
	fs.Var(&execs, "exec", "shell command to run once the fleet is up (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	var f *fleet.Fleet
	if *fleetFile != "" {
		var err error
		if f, err = fleet.Load(*fleetFile); err != nil {
			return err
		}
	}
	// Leftovers of an earlier run would confuse etcd and containerd.
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}
	start := time.Now()
	r, err := rig.Start(ctx, rig.Options{Dir: *dir, Log: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "rig: tearing down")
		if err := r.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "rig:", err)
		}
	}()
	if f != nil {
		applied, err := fleet.Apply(ctx, r.Client, r.Registry.Host(), f)
		if err != nil {
			return err
		}
		if err := fleet.WaitSettled(ctx, r.Client, f, applied, 2*time.Minute); err != nil {
			return err
		}
		if err := r.ServeKubeletEndpoints(ctx, applied.Endpoints); err != nil {
			return err
		}
		if err := startStandIns(ctx, r, f, applied, *daemon); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "rig: up in %s; kubeconfig %s, environment %s\n",
		time.Since(start).Round(time.Millisecond), r.Kubeconfig, filepath.Join(r.Dir, "rig.env"))
	for _, c := range execs {
		fmt.Fprintf(os.Stderr, "\n$ %s\n", c)
		cmd := exec.CommandContext(ctx, "sh", "-c", c)
		// The rig's kubectl matches the apiserver; put it first on PATH.
		path := filepath.Dir(r.Binaries.Kubectl) + ":" + os.Getenv("PATH")
		cmd.Env = append(os.Environ(), "PATH="+path, "KUBECONFIG="+r.Kubeconfig, "WINIMAGE_RIG_REGISTRY="+r.Registry.Host())
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
	}
	if *exit {
		return nil
	}
	// kubectl refuses flags before a plugin's name, so the kubeconfig goes
	// in the environment or after "winimage".
	fmt.Fprintf(os.Stderr, "\nrig: staying up; press Ctrl-C to stop. In another shell:\n  export PATH=%s:%s:$PATH KUBECONFIG=%s\n  kubectl winimage version\n  kubectl get nodes -L node.kubernetes.io/windows-build,eks.amazonaws.com/nodegroup-image\nor without the environment: kubectl winimage --kubeconfig %s version\n",
		os.Getenv("WINIMAGE_BIN_DIR"), filepath.Dir(r.Binaries.Kubectl), r.Kubeconfig, r.Kubeconfig)
	<-ctx.Done()
	return nil
}

// startStandIns gives each standIn node its own containerd and plays
// kubelet for them, running the daemon binary for DaemonSet pods.
func startStandIns(ctx context.Context, r *rig.Rig, f *fleet.Fleet, applied *fleet.Applied, daemon string) error {
	nodes := map[string]*rig.Containerd{}
	for _, g := range f.NodeGroups {
		if !g.StandIn {
			continue
		}
		if daemon == "" {
			return fmt.Errorf("node group %s is played by the kubelet stand-in: pass --daemon", g.Name)
		}
		for _, name := range applied.Nodes[g.Name] {
			// A short name: it ends up in a unix socket path.
			c, err := r.StartContainerd(ctx, fmt.Sprintf("standin-%d", len(nodes)))
			if err != nil {
				return err
			}
			nodes[name] = c
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	_, err := r.StartKubelet(ctx, nodes, map[string]string{"winimage-daemon": daemon})
	return err
}
