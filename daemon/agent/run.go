package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/semaphore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/containerdversion"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/daemon/contract/osbuild"
	"github.com/winimage-io/kubectl-winimage/daemon/diskguard"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/pass"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
	"github.com/winimage-io/kubectl-winimage/daemon/slots"
	"github.com/winimage-io/kubectl-winimage/daemon/statedir"
)

// lookups is how many registry lookups a node has in flight at once.
const lookups = 4

// agent is one running daemon: what Run set up, used by the warm loop.
type agent struct {
	cfg     Config
	log     *slog.Logger
	kube    kubernetes.Interface
	warmer  *pass.Warmer
	planner func() pass.Planner
	changed chan struct{}
	// warnings about the node, published with the progress.
	warnings []string
	lists    chan *imagelist.List
	closeAll func()
	// pub publishes progress; warnings found while running go through it.
	pub *report.Publisher
	// leftover are the pull leases of a daemon stopped mid-pull, released
	// once the first pass has ended (noderuntime.LeftoverLeases).
	leftover []leases.Lease
	rt       *noderuntime.Containerd
	// secrets are the mounted pull secrets, read again every pass.
	secrets *secretKeychain
	// joined is when the node was created, for the startup taint's deadline.
	joined time.Time

	taintMu     sync.Mutex
	taintLifted bool
}

// Run warms the image list and keeps it warm until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Node == "" {
		return errors.New("no node name: set NODE_NAME from the downward API or --node-name")
	}
	cfg.mapMounts()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	a, list, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.closeAll()
	a.pub = &report.Publisher{Client: a.kube, Namespace: cfg.PodNamespace, PodName: cfg.Pod, NodeName: cfg.Node,
		StateFile: cfg.StateFile, Interval: cfg.PublishInterval, ProgressInterval: cfg.ProgressInterval, Log: a.log, Warnings: a.warnings}
	published := make(chan struct{})
	go func() { a.pub.Run(ctx, a.changed, a.warmer.Snapshot); close(published) }()
	go a.startupTaintDeadline(ctx, a.joined)
	a.loop(ctx, list)
	<-published
	a.log.Info("stopped")
	return nil
}

// start connects to the API server and containerd and reads the list.
func start(ctx context.Context, cfg Config) (*agent, *imagelist.List, error) {
	a := &agent{cfg: cfg, log: cfg.Log.With("node", cfg.Node), changed: make(chan struct{}, 1), lists: make(chan *imagelist.List, 1)}
	var err error
	if a.kube, err = KubeClient(cfg.Kubeconfig); err != nil {
		return nil, nil, err
	}
	warning, err := checkAccess(ctx, a.kube, cfg.needs())
	if err != nil {
		return nil, nil, err
	}
	if warning != "" {
		a.warnings = append(a.warnings, warning)
		a.log.Warn(warning)
	}
	node, err := a.kube.CoreV1().Nodes().Get(ctx, cfg.Node, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read node %s: %w", cfg.Node, err)
	}
	a.joined = node.CreationTimestamp.Time
	info := node.Status.NodeInfo
	platform := osbuild.HostPlatform(info.OperatingSystem, info.Architecture, info.KernelVersion)
	keychain, err := newSecretKeychain(ctx, cfg.PullSecretsDir)
	if err != nil {
		return nil, nil, err
	}
	a.secrets = keychain
	list, sum, err := imagelist.Load(cfg.ImageList)
	if err != nil {
		return nil, nil, err
	}
	if err := freshStateFile(cfg.StateFile); err != nil {
		return nil, nil, err
	}
	client, err := cfg.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	a.closeAll = func() { client.Close() }
	// Pick the entry the node's own CRI would pick, or kubelet pulls again.
	version, err := client.Version(ctx)
	if err != nil {
		return nil, nil, err
	}
	rule := osbuild.RuleOf(version.Version)
	if warning, ok := pinWarning(version.Version); ok {
		a.warnings = append(a.warnings, warning)
		if err := report.NodeEvent(ctx, a.kube, cfg.Node, corev1.EventTypeWarning, "PinsNotHonoured", warning); err != nil {
			a.log.Error("node event", "err", err)
		}
		a.log.Warn(warning)
	}
	nodeCfg, err := readNodeConfig(cfg.Containerd, version.Version)
	if err != nil {
		return nil, nil, err
	}
	transfer, method := pullMethod(version.Version, nodeCfg, runtime.GOOS)
	a.cfg.Root = containerdRoot(cfg.Root, nodeCfg.Root)
	if warning := diskWarning(a.cfg.DiskThreshold); warning != "" {
		a.warnings = append(a.warnings, warning)
		a.log.Warn(warning)
	}
	rt := &noderuntime.Containerd{Client: client, Snapshotter: cfg.Snapshotter, Platform: platform, Matcher: osbuild.MatcherFor(platform, rule),
		Keychain: keychain, UnpackLimiter: semaphore.NewWeighted(int64(max(runtime.NumCPU(), 2))),
		DownloadLimiter: semaphore.NewWeighted(int64(max(nodeCfg.MaxConcurrentDownloads, 1))),
		CRI:             nodeCfg, Transfer: transfer, Owner: cfg.Pod}
	if a.leftover, err = rt.LeftoverLeases(ctx); err != nil {
		a.log.Warn("leftover pull leases", "err", err)
	}
	a.rt = rt
	a.useRuntime(ctx, rt, pass.RegistryPlanner{Host: platform, Rule: rule})
	go imagelist.Watch(ctx, cfg.ImageList, cfg.ListInterval, sum, a.listChanged, func(err error) {
		a.log.Error("image list rejected; keeping the last good one", "err", err)
	})
	a.log.Info("warming", "images", len(list.Images), "platform", fmt.Sprintf("%s/%s %s", platform.OS, platform.Architecture, platform.OSVersion),
		"containerd", version.Version, "entry", rule.String(), "pull", method)
	return a, list, nil
}

// useRuntime sets up the warmer on rt and the planner each pass makes: a
// new resolver per pass (it caches answers, and tags move) that asks the
// hosts the pulls use, with the pulls' credentials.
func (a *agent) useRuntime(ctx context.Context, rt *noderuntime.Containerd, planner pass.RegistryPlanner) {
	a.warmer = a.newWarmer(rt)
	keychain := rt.PlannerKeychain()
	a.planner = func() pass.Planner {
		planner.Resolver = &imagesize.Resolver{Concurrency: lookups, Keychain: func(string) authn.Keychain { return keychain },
			Transport: rt.PlannerTransport(ctx, remote.DefaultTransport)}
		return planner
	}
}

func (a *agent) newWarmer(rt noderuntime.Runtime) *pass.Warmer {
	w := &pass.Warmer{Runtime: rt, Chains: a.cfg.ParallelPulls, Lookups: lookups, Changed: a.notify, MaxAttempts: a.cfg.MaxAttempts, MinBackoff: a.cfg.MinBackoff, StallTimeout: a.cfg.PullProgressTimeout}
	if a.cfg.DiskThreshold < 1 {
		w.Guard = diskguard.New(a.cfg.Root, a.cfg.DiskThreshold).Reserve
	}
	if a.cfg.MaxConcurrentNodes > 0 {
		pool := &slots.Pool{Client: a.kube, Namespace: a.cfg.PodNamespace, Prefix: a.cfg.SlotLeasePrefix,
			Size: a.cfg.MaxConcurrentNodes, Identity: a.cfg.Node, Log: a.log}
		w.Slot, w.SlotsIdle = pool.Acquire, pool.Idle
	}
	return w
}

func (a *agent) notify() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// listChanged hands the newest list to the loop, replacing one not yet
// taken.
func (a *agent) listChanged(l *imagelist.List) {
	a.log.Info("image list changed", "images", len(l.Images))
	select {
	case <-a.lists:
	default:
	}
	a.lists <- l
}

// loop runs warm passes: one now, again when the list changes (cutting
// the running pass short) and every RecheckInterval, until ctx ends.
func (a *agent) loop(ctx context.Context, list *imagelist.List) {
	for {
		next, stopped := a.pass(ctx, list)
		if stopped {
			return
		}
		if next != nil {
			list = next
			continue
		}
		select {
		case <-ctx.Done():
			return
		case list = <-a.lists:
		case <-time.After(nextPassIn(a.warmer.Snapshot(), a.cfg.RecheckInterval, a.cfg.RetryInterval)):
		}
	}
}

// nextPassIn is the wait before the next pass: RetryInterval after a pass
// that left an image Failed, else RecheckInterval, spread ±25 % so nodes
// that started together do not ask the registry together.
func nextPassIn(snap contract.Snapshot, recheck, retry time.Duration) time.Duration {
	for _, img := range snap.Images {
		if img.State == contract.Failed && retry > 0 {
			recheck = min(recheck, retry)
			break
		}
	}
	if recheck < 4 {
		return recheck
	}
	return recheck*3/4 + rand.N(recheck/2)
}

// pass warms list once. It returns a newer list that cut it short, or
// stopped when ctx ended.
func (a *agent) pass(ctx context.Context, list *imagelist.List) (next *imagelist.List, stopped bool) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	finished := make(chan struct{})
	start := time.Now()
	a.reloadSecrets(ctx)
	a.warmer.Planner = a.planner()
	go func() { a.warmer.Run(runCtx, list); close(finished) }()
	select {
	case <-ctx.Done():
		cancel()
		<-finished
		return nil, true
	case next = <-a.lists:
		cancel()
		<-finished
		return next, false
	case <-finished:
	}
	a.passDone(ctx, a.warmer.Snapshot(), time.Since(start))
	return nil, false
}

// freshStateFile makes the state file's folder for the daemon alone and
// removes the state a previous pod left: the folder is on the host and
// outlives the pod.
func freshStateFile(path string) error {
	if err := statedir.Prepare(filepath.Dir(path)); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// reloadSecrets reads the mounted pull secrets again, so a rotated token
// is used from this pass on.
func (a *agent) reloadSecrets(ctx context.Context) {
	if a.secrets == nil {
		return
	}
	changed, err := a.secrets.Reload(ctx)
	switch {
	case err != nil:
		a.log.Warn("pull secrets not read again; keeping the last ones", "err", err)
	case changed:
		a.log.Info("pull secrets changed; using the new ones")
	}
}

// passDone logs the outcome and lifts the startup taint.
func (a *agent) passDone(ctx context.Context, snap contract.Snapshot, took time.Duration) {
	a.log.Info("warm pass done", "ready", snap.Ready, "total", snap.Total, "took", took.Round(time.Millisecond).String())
	for _, img := range snap.Images {
		if img.State != contract.Ready {
			a.log.Warn("image not warm", "ref", img.Ref, "state", string(img.State), "reason", img.Reason)
		}
	}
	a.passEnded(ctx, snap)
	a.releaseLeftover(ctx)
}

// releaseLeftover releases the leases a stopped daemon left, once.
func (a *agent) releaseLeftover(ctx context.Context) {
	if len(a.leftover) == 0 || a.rt == nil {
		return
	}
	released, err := a.rt.ReleaseLeases(ctx, a.leftover)
	if err != nil {
		a.log.Warn("leftover pull leases", "err", err)
		return
	}
	a.leftover = nil
	a.log.Info("released the pull leases of a daemon that was stopped mid-pull", "leases", released)
}

// addWarning publishes a warning about the node with the progress.
func (a *agent) addWarning(w string) {
	if a.pub != nil {
		a.pub.AddWarning(w)
		a.notify()
	}
}

// pinWarning says so when the node's containerd would not keep pinned
// images from kubelet's image GC: the images are warm, not protected.
func pinWarning(containerdVersion string) (string, bool) {
	v, err := containerdversion.Parse(containerdVersion)
	if err != nil || containerdversion.PinsHonoured(v) {
		return "", false
	}
	return fmt.Sprintf("containerd %s ignores the pin label on images already present (it needs %s or later): kubelet's image GC may remove warmed images; move the node to a current EKS Windows AMI",
		v, containerdversion.PinsFrom), true
}
