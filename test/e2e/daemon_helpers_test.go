//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
	"github.com/winimage-io/kubectl-winimage/daemon/report"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
	"github.com/winimage-io/kubectl-winimage/test/gobuild"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
	"github.com/winimage-io/kubectl-winimage/test/rig"
)

func daemonBinary(t *testing.T) string {
	t.Helper()
	return gobuild.Binary(t, "./cmd/winimage-daemon")
}

// daemon is a winimage-daemon process playing one node.
type daemon struct {
	t         *testing.T
	cmd       *exec.Cmd
	dir       string
	stateFile string
	listFile  string
	node, pod string
	logs      *strings.Builder
	exited    chan struct{}
}

type daemonOpts struct {
	// pod is an existing pod (a DaemonSet's) to report on; empty creates one.
	pod        string
	node       string
	containerd *rig.Containerd
	images     []string
	extra      []string
	kubeconfig string
}

// startDaemon creates the daemon's pod object on the node (as the DaemonSet
// would) and runs the daemon for it.
func startDaemon(t *testing.T, r *rig.Rig, o daemonOpts) *daemon {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	d := &daemon{t: t, dir: dir, stateFile: filepath.Join(dir, "state.json"), listFile: filepath.Join(dir, "images.yaml"), node: o.node, pod: "winimage-daemon-" + strings.Split(o.node, ".")[0], logs: &strings.Builder{}, exited: make(chan struct{})}
	d.setImages(o.images...)
	if o.pod != "" {
		d.pod = o.pod
	}
	if _, err := r.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "winimage-system"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: d.pod, Namespace: "winimage-system"}, Spec: corev1.PodSpec{
		NodeName:    o.node,
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Containers:  []corev1.Container{{Name: "daemon", Image: "winimage-daemon:e2e"}},
	}}
	if o.pod == "" {
		if _, err := r.Client.CoreV1().Pods("winimage-system").Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	kubeconfig := o.kubeconfig
	if kubeconfig == "" {
		kubeconfig = r.Kubeconfig
	}
	args := append([]string{"run", "--kubeconfig", kubeconfig, "--node-name", o.node, "--pod-name", d.pod, "--pod-namespace", "winimage-system",
		"--containerd-address", o.containerd.Address, "--snapshotter", o.containerd.Snapshotter, "--containerd-root", o.containerd.Root,
		"--containerd-config", o.containerd.ConfigFile,
		"--images", d.listFile, "--state-file", d.stateFile, "--publish-interval", "200ms", "--progress-interval", "200ms", "--list-interval", "200ms",
		// The guard measures the host's real disk; only its own test
		// (which sets a threshold after this) may depend on how full it is.
		"--disk-threshold", "0.99"}, o.extra...)
	d.cmd = exec.Command(daemonBinary(t), args...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon %s logs:\n%s", o.node, d.logs.String())
		}
	})
	return d
}

func (d *daemon) setImages(refs ...string) {
	var b strings.Builder
	b.WriteString("images:\n")
	for _, r := range refs {
		b.WriteString("- ref: " + r + "\n")
	}
	if err := os.WriteFile(d.listFile+".tmp", []byte(b.String()), 0o644); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Rename(d.listFile+".tmp", d.listFile); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemon) state() contract.Progress {
	p, _ := report.ReadState(d.stateFile)
	return p
}

// waitDone waits until the daemon reports every image settled.
func (d *daemon) waitDone(timeout time.Duration) contract.Progress {
	d.t.Helper()
	var p contract.Progress
	if !eventually.Within(timeout, func() bool {
		select {
		case <-d.exited:
			d.t.Fatalf("daemon exited early:\n%s", d.logs.String())
		default:
		}
		p = d.state()
		return p.Done && p.Total > 0
	}) {
		d.t.Fatalf("daemon not done after %s: %+v\n%s", timeout, d.state(), d.logs.String())
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() error {
	select {
	case <-d.exited:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return context.DeadlineExceeded
	}
}

// criImage finds ref in the CRI image list as kubelet sees it.
func criImage(t *testing.T, c *rig.Containerd, ref string) *runtimeapi.Image {
	t.Helper()
	images, err := c.CRIImages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range images {
		for _, tag := range img.RepoTags {
			if tag == ref {
				return img
			}
		}
	}
	return nil
}

// criImageOnceSettled is ref through CRI once done holds, or after 10 s:
// CRI's image store takes a change made through the containerd client
// from the ImageUpdate event that follows it (containerd v2.4.2
// internal/cri/server/events.go), not at once.
func criImageOnceSettled(t *testing.T, c *rig.Containerd, ref string, done func(*runtimeapi.Image) bool) *runtimeapi.Image {
	t.Helper()
	var img *runtimeapi.Image
	eventually.Within(10*time.Second, func() bool {
		img = criImage(t, c, ref)
		return done(img)
	})
	return img
}

func progressAnnotation(t *testing.T, r *rig.Rig, pod string) contract.Progress {
	t.Helper()
	p, err := r.Client.CoreV1().Pods("winimage-system").Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var prog contract.Progress
	_ = json.Unmarshal([]byte(p.Annotations[contract.AnnotationProgress]), &prog)
	return prog
}

// runCmd runs a command and returns stdout, stderr and the exit code.
func runCmd(name string, args ...string) (string, string, int) {
	cmd := exec.Command(name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
	}
	return stdout.String(), stderr.String(), code
}

// nodeClient is a containerd client in kubelet's namespace, closed when
// the test ends.
func nodeClient(t *testing.T, address string) *containerd.Client {
	t.Helper()
	client, err := containerd.New(address, containerd.WithDefaultNamespace("k8s.io"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// recordsLike returns ref's image record and every record with its target.
func recordsLike(t *testing.T, client *containerd.Client, ref string) (images.Image, []images.Image) {
	t.Helper()
	ctx := context.Background()
	rec, err := client.ImageService().Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	all, err := client.ImageService().List(ctx, "target.digest=="+rec.Target.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	return rec, all
}

// pinTheirs labels ref pinned the way another tool would (no winimage label).
func pinTheirs(t *testing.T, address, ref string) {
	t.Helper()
	client := nodeClient(t, address)
	_, all := recordsLike(t, client, ref)
	for _, rec := range all {
		if rec.Labels == nil {
			rec.Labels = map[string]string{}
		}
		rec.Labels["io.cri-containerd.pinned"] = "pinned"
		if _, err := client.ImageService().Update(context.Background(), rec, "labels.io.cri-containerd.pinned"); err != nil {
			t.Fatal(err)
		}
	}
}

// privateRegistry starts a registry that wants user u and password p,
// holding team/secret:1 (one 64 KiB Linux layer); it stops with the test.
func privateRegistry(t *testing.T) *rig.Registry {
	t.Helper()
	private, err := rig.NewRegistry(rig.WithBasicAuth("u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(private.Stop)
	if _, err := imagefixtures.Push(context.Background(), private.Host(), imagefixtures.Spec{Images: []imagefixtures.Image{
		{Ref: "team/secret:1", Layers: []resource.Quantity{resource.MustParse("64Ki")}, Linux: true},
	}}); err != nil {
		t.Fatal(err)
	}
	return private
}
