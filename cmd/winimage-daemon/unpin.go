package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"time"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// unpin removes this daemon's pins (for `warm remove --unpin`), optionally
// deleting the images it added that no container uses. With --report it
// writes the result on its pod, and with --hold it then stays (a DaemonSet
// pod that exits is restarted and would unpin again, forever).
func unpin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("unpin", flag.ContinueOnError)
	var rf runtimeFlags
	rf.add(fs)
	remove := fs.Bool("remove-unused", false, "also delete images this daemon added that no container uses")
	publish := fs.Bool("report", false, "write the result on this pod (annotation "+contract.AnnotationUnpin+")")
	hold := fs.Bool("hold", false, "after success, stay until stopped")
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig (default: $KUBECONFIG, else the in-cluster service account)")
	node := fs.String("node-name", os.Getenv("NODE_NAME"), "this node (downward API NODE_NAME)")
	pod := fs.String("pod-name", os.Getenv("POD_NAME"), "this pod (downward API POD_NAME)")
	namespace := fs.String("pod-namespace", envDefault("POD_NAMESPACE", contract.DefaultNamespace), "this pod's namespace (downward API POD_NAMESPACE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *publish && *pod == "" {
		return errors.New("--report needs this pod's name: set POD_NAME from the downward API or --pod-name")
	}
	result := contract.UnpinResult{Node: *node, Unpinned: []string{}}
	err := func() error {
		client, err := rf.connect(ctx)
		if err != nil {
			return err
		}
		defer client.Close()
		rt := &noderuntime.Containerd{Client: client, Snapshotter: rf.snapshotter}
		result.Unpinned, result.Removed, err = rt.Unpin(ctx, *remove)
		return err
	}()
	if err != nil {
		result.Error = err.Error()
	}
	result.Finished = time.Now().UTC()
	if *publish {
		kube, kerr := kubeClient(*kubeconfig)
		if kerr == nil {
			kerr = report.PublishUnpin(ctx, kube, *namespace, *pod, result)
		}
		if kerr != nil {
			return errors.Join(err, kerr)
		}
	}
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
