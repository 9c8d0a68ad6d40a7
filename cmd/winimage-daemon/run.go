package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/k8schain"
	"golang.org/x/sync/semaphore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/diskguard"
	"github.com/winimage-io/kubectl-winimage/daemon/imagelist"
	"github.com/winimage-io/kubectl-winimage/daemon/imagesize"
	"github.com/winimage-io/kubectl-winimage/daemon/noderuntime"
	"github.com/winimage-io/kubectl-winimage/daemon/osbuild"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
	"github.com/winimage-io/kubectl-winimage/daemon/warm"
)

func defaultStateFile() string {
	if runtime.GOOS == "windows" {
		return `C:\ProgramData\winimage\state.json`
	}
	return "/run/winimage/state.json"
}

type runOptions struct {
	runtimeFlags
	images, stateFile, pullSecrets, kubeconfig string
	node, pod, namespace                       string
	chains                                     int
	diskThreshold                              float64
	publishInterval, listInterval, recheck     time.Duration
	maxNodes                                   int
	slotPrefix                                 string
	startupTaint                               string
}

func run(ctx context.Context, args []string) error {
	var o runOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	o.runtimeFlags.add(fs)
	fs.StringVar(&o.images, "images", contract.ImageListPath, "image list (the mounted ConfigMap)")
	fs.StringVar(&o.stateFile, "state-file", defaultStateFile(), "where progress is written for the readiness probe")
	fs.StringVar(&o.pullSecrets, "pull-secrets-dir", "", "folder of mounted dockerconfigjson pull secrets (one sub-folder each)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig (default: $KUBECONFIG, else the in-cluster service account)")
	fs.StringVar(&o.node, "node-name", os.Getenv("NODE_NAME"), "this node (downward API NODE_NAME)")
	fs.StringVar(&o.pod, "pod-name", os.Getenv("POD_NAME"), "this pod (downward API POD_NAME)")
	fs.StringVar(&o.namespace, "pod-namespace", envDefault("POD_NAMESPACE", contract.DefaultNamespace), "this pod's namespace (downward API POD_NAMESPACE)")
	fs.IntVar(&o.chains, "parallel-pulls", 3, "pulls at once; images sharing a base wait until the first of them has it")
	fs.Float64Var(&o.diskThreshold, "disk-threshold", 0.85, "skip an image that would fill containerd's volume above this fraction (kubelet's image GC high threshold)")
	fs.DurationVar(&o.publishInterval, "publish-interval", 2*time.Second, "least time between progress updates on the pod")
	fs.DurationVar(&o.listInterval, "list-interval", 5*time.Second, "how often the image list is checked for changes")
	fs.DurationVar(&o.recheck, "recheck-interval", 10*time.Minute, "how often warm images are checked again (moved tags, GC)")
	fs.IntVar(&o.maxNodes, "max-concurrent-nodes", 0, "nodes pulling at once cluster-wide, coordinated through Leases (0: no limit)")
	fs.StringVar(&o.slotPrefix, "slot-lease-prefix", "winimage-pull-slot", "name prefix of the pull-slot Leases")
	fs.StringVar(&o.startupTaint, "startup-taint", "", "taint key removed from the node once every image is Ready")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.node == "" {
		return errors.New("no node name: set NODE_NAME from the downward API or --node-name")
	}
	o.images, o.pullSecrets, o.stateFile = inSandbox(o.images), inSandbox(o.pullSecrets), inSandbox(o.stateFile)
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("node", o.node)

	kube, err := kubeClient(o.kubeconfig)
	if err != nil {
		return err
	}
	node, err := kube.CoreV1().Nodes().Get(ctx, o.node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read node %s: %w", o.node, err)
	}
	platform := osbuild.HostPlatform(node.Status.NodeInfo.OperatingSystem, node.Status.NodeInfo.Architecture, node.Status.NodeInfo.KernelVersion)
	keychain, err := pullSecretKeychain(ctx, o.pullSecrets)
	if err != nil {
		return err
	}
	client, err := o.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	rt := &noderuntime.Containerd{Client: client, Snapshotter: o.snapshotter, Platform: platform, Matcher: osbuild.Matcher(platform), Keychain: keychain,
		UnpackLimiter: semaphore.NewWeighted(int64(max(runtime.NumCPU(), 2)))}

	list, sum, err := imagelist.Load(o.images)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.stateFile), 0o755); err != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	w := &warm.Warmer{Runtime: rt, Chains: o.chains, Changed: notify}
	if o.root != "" {
		if _, err := os.Stat(o.root); err == nil {
			w.Guard = diskguard.New(o.root, o.diskThreshold).Check
		}
	}
	if o.maxNodes > 0 {
		slots := &slotPool{client: kube, namespace: o.namespace, prefix: o.slotPrefix, size: o.maxNodes, identity: o.node, log: log}
		w.Slot = slots.Acquire
	}
	pub := &report.Publisher{Client: kube, Namespace: o.namespace, PodName: o.pod, NodeName: o.node, StateFile: o.stateFile, Interval: o.publishInterval, Log: log}
	published := make(chan struct{})
	go func() { pub.Run(ctx, changed, w.Snapshot); close(published) }()

	lists := make(chan *imagelist.List, 1)
	go imagelist.Watch(ctx, o.images, o.listInterval, sum, func(l *imagelist.List) {
		log.Info("image list changed", "images", len(l.Images))
		select {
		case <-lists:
		default:
		}
		lists <- l
	}, func(err error) { log.Error("image list rejected; keeping the last good one", "err", err) })

	log.Info("warming", "images", len(list.Images), "platform", fmt.Sprintf("%s/%s %s", platform.OS, platform.Architecture, platform.OSVersion))
	for {
		runCtx, cancel := context.WithCancel(ctx)
		finished := make(chan struct{})
		start := time.Now()
		go func() {
			w.Planner = warm.RegistryPlanner{Resolver: &imagesize.Resolver{Concurrency: 4, Keychain: func(string) authn.Keychain { return keychain }}, Host: platform}
			w.Run(runCtx, list)
			close(finished)
		}()
		select {
		case <-ctx.Done():
			cancel()
			<-finished
			<-published
			log.Info("stopped")
			return nil
		case list = <-lists:
			cancel()
			<-finished
			continue
		case <-finished:
		}
		cancel()
		snap := w.Snapshot()
		log.Info("warm pass done", "ready", snap.Ready, "total", snap.Total, "took", time.Since(start).Round(time.Millisecond).String())
		for _, img := range snap.Images {
			if img.State != contract.Ready {
				log.Warn("image not warm", "ref", img.Ref, "state", string(img.State), "reason", img.Reason)
			}
		}
		if o.startupTaint != "" && snap.AllReady() {
			if err := removeTaint(ctx, kube, o.node, o.startupTaint); err != nil {
				log.Error("remove startup taint", "taint", o.startupTaint, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			<-published
			log.Info("stopped")
			return nil
		case list = <-lists:
		case <-time.After(o.recheck):
		}
	}
}

// inSandbox maps a volume's mountPath to where a Windows HostProcess
// container sees it: under $CONTAINER_SANDBOX_MOUNT_POINT. Elsewhere the
// path is unchanged.
func inSandbox(path string) string {
	root := os.Getenv("CONTAINER_SANDBOX_MOUNT_POINT")
	if root == "" || !strings.HasPrefix(path, "/") {
		return path
	}
	return filepath.Join(root, filepath.FromSlash(path))
}

func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cfg.UserAgent = "winimage-daemon"
	return kubernetes.NewForConfig(cfg)
}

// pullSecretKeychain reads mounted dockerconfigjson secrets (each secret a
// sub-folder with a .dockerconfigjson file) and adds the default keychain
// and the cloud helpers (ECR through the node's instance role).
func pullSecretKeychain(ctx context.Context, dir string) (authn.Keychain, error) {
	var secrets []corev1.Secret
	if dir != "" {
		matches, err := filepath.Glob(filepath.Join(dir, "*", corev1.DockerConfigJsonKey))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				return nil, err
			}
			secrets = append(secrets, corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: filepath.Base(filepath.Dir(m))},
				Type:       corev1.SecretTypeDockerConfigJson,
				Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
			})
		}
	}
	return k8schain.NewFromPullSecrets(ctx, secrets)
}
