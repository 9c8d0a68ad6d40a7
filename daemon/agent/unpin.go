package agent

import (
	"context"
	"errors"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/access"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// UnpinConfig is what `winimage-daemon unpin` is told.
type UnpinConfig struct {
	Containerd
	Identity
	// RemoveUnused also deletes the images this daemon added that no
	// container uses.
	RemoveUnused bool
	// Report writes the result on this pod (contract.AnnotationUnpin).
	Report bool
}

// Unpin removes this daemon's pins and returns what it did; with Report the
// result is also on the pod, even when unpinning failed.
func Unpin(ctx context.Context, cfg UnpinConfig) (contract.UnpinResult, error) {
	if cfg.Report && cfg.Pod == "" {
		return contract.UnpinResult{}, errors.New("--report needs this pod's name: set POD_NAME from the downward API or --pod-name")
	}
	var kube kubernetes.Interface
	if cfg.Report {
		// Checked first: pins removed with no way to say so would leave
		// warm remove waiting for a result that never comes.
		var err error
		if kube, err = KubeClient(cfg.Kubeconfig); err != nil {
			return contract.UnpinResult{}, err
		}
		if _, err := checkAccess(ctx, kube, []access.Need{publishNeed(cfg.Identity)}); err != nil {
			return contract.UnpinResult{}, err
		}
	}
	result := contract.UnpinResult{Node: cfg.Node, Unpinned: []string{}}
	err := func() error {
		client, err := cfg.connect(ctx)
		if err != nil {
			return err
		}
		defer client.Close()
		rt := &noderuntime.Containerd{Client: client, Snapshotter: cfg.Snapshotter}
		result.Unpinned, result.Removed, err = rt.Unpin(ctx, cfg.RemoveUnused)
		return err
	}()
	if err != nil {
		result.Error = err.Error()
	}
	result.Finished = time.Now().UTC()
	if cfg.Report {
		if kerr := report.PublishUnpin(ctx, kube, cfg.PodNamespace, cfg.Pod, result); kerr != nil {
			return result, errors.Join(err, kerr)
		}
	}
	return result, err
}
