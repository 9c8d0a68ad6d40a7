// Package agent is the daemon's orchestration: it connects to the API
// server and the node's containerd, warms the listed images and keeps them
// warm (re-checking, following list changes), publishes progress, paces
// pulls cluster-wide and lifts the startup taint; and, in unpin mode,
// removes its pins. cmd/winimage-daemon only wires flags to it.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/hostprocess"
	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/pass"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
)

// Containerd is where the node's containerd is and what kubelet's CRI uses
// in it.
type Containerd struct {
	Address, Namespace, Snapshotter string
	// Root is containerd's root folder; its volume is checked before pulls.
	// Empty: the root containerd's configuration sets, else the stock one.
	Root string
	// ConfigFile is containerd's configuration, read for the registry hosts
	// directory and discard_unpacked_layers, so pulls go and land as CRI's.
	ConfigFile string
	// DiscardUnpackedLayers forces the CRI setting of that name on (it is
	// also taken from ConfigFile).
	DiscardUnpackedLayers bool
}

// DefaultContainerd is the stock setting for a node running this OS.
func DefaultContainerd() Containerd {
	d := noderuntime.DefaultsFor(runtime.GOOS)
	return Containerd{Address: d.Address, Namespace: noderuntime.Namespace, Snapshotter: d.Snapshotter, ConfigFile: nodeconfig.DefaultPathHere()}
}

func (c Containerd) connect(ctx context.Context) (*containerd.Client, error) {
	return noderuntime.Connect(ctx, c.Address, c.Namespace)
}

// Identity is which pod and node this daemon is.
type Identity struct {
	Node, Pod, PodNamespace string
	// Kubeconfig, when set, is used instead of the in-cluster account.
	Kubeconfig string
}

// Config is everything `winimage-daemon run` is told.
type Config struct {
	Containerd
	Identity
	ImageList, StateFile, PullSecretsDir string
	// ParallelPulls is how many pulls run at once on the node.
	ParallelPulls int
	// DiskThreshold is the fraction of containerd's volume not to fill; 1
	// turns the guard off.
	DiskThreshold                 float64
	PublishInterval, ListInterval time.Duration
	// ProgressInterval is the least time between publishes of byte counts
	// alone (report.Publisher).
	ProgressInterval time.Duration
	// RecheckInterval is the mean time between passes when the last left
	// every image Ready or Skipped (each wait jittered ±25 %); RetryInterval
	// when it left one Failed.
	RecheckInterval, RetryInterval time.Duration
	// MaxAttempts bounds the tries at an image per pass, the first retry
	// waiting about MinBackoff (see pass.Warmer).
	MaxAttempts int
	MinBackoff  time.Duration
	// PullProgressTimeout cancels an attempt whose download has not moved
	// for this long, as CRI's image_pull_progress_timeout does.
	PullProgressTimeout time.Duration
	// MaxConcurrentNodes paces nodes cluster-wide through Leases (0: off).
	MaxConcurrentNodes int
	SlotLeasePrefix    string
	// StartupTaint is lifted from the node after the first pass that
	// ends, or StartupTaintTimeout after the node joined (starttaint.go).
	StartupTaint        string
	StartupTaintTimeout time.Duration
	Log                 *slog.Logger
}

// DefaultConfig returns the defaults `winimage-daemon run` starts from.
func DefaultConfig() Config {
	return Config{
		Containerd:          DefaultContainerd(),
		Identity:            Identity{PodNamespace: contract.DefaultNamespace},
		ImageList:           contract.ImageListPath,
		StateFile:           DefaultStateFile(),
		ParallelPulls:       3,
		DiskThreshold:       contract.DefaultDiskThreshold,
		PublishInterval:     2 * time.Second,
		ProgressInterval:    report.DefaultProgressInterval,
		ListInterval:        5 * time.Second,
		RecheckInterval:     DefaultRecheckInterval,
		RetryInterval:       10 * time.Minute,
		MaxAttempts:         pass.DefaultMaxAttempts,
		MinBackoff:          pass.DefaultMinBackoff,
		PullProgressTimeout: pass.DefaultStallTimeout,
		SlotLeasePrefix:     contract.SlotLeasePrefix,
		StartupTaintTimeout: contract.DefaultStartupTaintTimeout,
	}
}

// DefaultRecheckInterval is how often a node asks the registry whether its
// warm tags moved: a HEAD per tag, nothing per digest. Four hours keeps a
// fleet of 1,000 nodes with ten tags each under one registry request a
// second (10 × 1,000 / 14,400 s ≈ 0.7); a changed image list still starts a
// pass at once.
const DefaultRecheckInterval = 4 * time.Hour

// DefaultStateFile is where progress is written for the readiness probe.
func DefaultStateFile() string {
	if runtime.GOOS == "windows" {
		return `C:\ProgramData\winimage\state.json`
	}
	return "/run/winimage/state.json"
}

// mapMounts points every mounted path at where a HostProcess container
// sees it.
func (c *Config) mapMounts() {
	c.ImageList = hostprocess.InSandbox(c.ImageList)
	c.PullSecretsDir = hostprocess.InSandbox(c.PullSecretsDir)
	c.StateFile = hostprocess.InSandbox(c.StateFile)
}

// KubeClient is a client from kubeconfig, or the in-cluster account.
func KubeClient(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = hostprocess.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cfg.UserAgent = "winimage-daemon"
	return kubernetes.NewForConfig(cfg)
}

// ContainerdVersion is the version the node's containerd reports.
func ContainerdVersion(ctx context.Context, c Containerd) (string, error) {
	client, err := c.connect(ctx)
	if err != nil {
		return "", err
	}
	defer client.Close()
	v, err := client.Version(ctx)
	return v.Version, err
}
