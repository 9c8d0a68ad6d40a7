//go:build linux

package rig

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// Kubelet is a small stand-in for kubelet on a few nodes: it runs the
// containers of pods bound to them as local processes, the way a Windows
// HostProcess container runs on its host. Volumes (ConfigMap, Secret,
// emptyDir) become files under the pod's sandbox folder, named to the
// process by $CONTAINER_SANDBOX_MOUNT_POINT; the downward-API environment is
// filled in; the process talks to the apiserver with a token of the pod's
// ServiceAccount (so RBAC applies as in a cluster); readiness comes from
// running the pod's exec readiness probe; a process that exits is started
// again. It keeps the nodes' Leases and Ready condition fresh.
type Kubelet struct {
	// noStopSignal: see StopWithoutSignal.
	noStopSignal atomic.Bool

	r *Rig
	// Nodes maps node names to the containerd each node's pods use.
	nodes map[string]*Containerd
	// binaries maps a container's command name to a local binary.
	binaries map[string]string

	ctx      context.Context
	informer cache.SharedIndexInformer

	mu         sync.Mutex
	pods       map[types.UID]*podProcess
	mountModes map[string]MountMode
	stop       context.CancelFunc
	done       sync.WaitGroup
}

type podProcess struct {
	cancel  context.CancelFunc
	stopped chan struct{}
	// pid is the running container process's, 0 between runs.
	pid atomic.Int64
	// instanceGone: its node was terminated; no stop signal reaches it.
	instanceGone atomic.Bool
}

// StopWithoutSignal makes pods stop by SIGKILL alone, as on Windows Server
// 2022 and later, where hcsshim runs a HostProcess command through cmd /c
// and the stop signal never reaches it.
func (k *Kubelet) StopWithoutSignal() { k.noStopSignal.Store(true) }

// StartKubelet plays kubelet for nodes, running container commands whose
// name is in binaries.
func (r *Rig) StartKubelet(ctx context.Context, nodes map[string]*Containerd, binaries map[string]string) (*Kubelet, error) {
	ctx, cancel := context.WithCancel(ctx)
	k := &Kubelet{r: r, ctx: ctx, nodes: nodes, binaries: binaries, pods: map[types.UID]*podProcess{}, mountModes: map[string]MountMode{}, stop: cancel}
	factory := informers.NewSharedInformerFactoryWithOptions(r.Client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
	}))
	informer := factory.Core().V1().Pods().Informer()
	k.informer = informer
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.sync(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { k.sync(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				k.kill(p.UID)
			}
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	factory.Start(ctx.Done())
	k.done.Add(1)
	go func() { defer k.done.Done(); k.heartbeat(ctx) }()
	r.cleanups = append([]func(){k.Stop}, r.cleanups...)
	return k, nil
}

// AddNode starts playing kubelet for one more node.
// Pods already bound to it start now, as when a kubelet registers late.
func (k *Kubelet) AddNode(name string, c *Containerd) {
	k.mu.Lock()
	k.nodes[name] = c
	k.mu.Unlock()
	for _, obj := range k.informer.GetStore().List() {
		if pod := obj.(*corev1.Pod); pod.Spec.NodeName == name {
			k.sync(k.ctx, pod)
		}
	}
}

// RemoveNode stops playing kubelet for a node, as when its instance is
// terminated (a scale-in, a spot reclaim): its pods' processes are killed
// at once, their API objects stay, its heartbeats stop.
func (k *Kubelet) RemoveNode(name string) {
	k.mu.Lock()
	delete(k.nodes, name)
	k.mu.Unlock()
	for _, obj := range k.informer.GetStore().List() {
		if pod := obj.(*corev1.Pod); pod.Spec.NodeName == name {
			k.killWithoutSignal(pod.UID)
		}
	}
}

// Stop ends every pod process and the heartbeats.
func (k *Kubelet) Stop() {
	k.stop()
	k.mu.Lock()
	procs := make([]*podProcess, 0, len(k.pods))
	for _, p := range k.pods {
		procs = append(procs, p)
	}
	k.mu.Unlock()
	for _, p := range procs {
		p.cancel()
		<-p.stopped
	}
	k.done.Wait()
}

func (k *Kubelet) node(name string) *Containerd {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nodes[name]
}

func (k *Kubelet) sync(ctx context.Context, pod *corev1.Pod) {
	c := k.node(pod.Spec.NodeName)
	if c == nil {
		return
	}
	if pod.DeletionTimestamp != nil {
		k.kill(pod.UID)
		// What kubelet does once the containers are gone.
		zero := int64(0)
		_ = k.r.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		return
	}
	k.mu.Lock()
	_, running := k.pods[pod.UID]
	if running {
		k.mu.Unlock()
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	proc := &podProcess{cancel: cancel, stopped: make(chan struct{})}
	k.pods[pod.UID] = proc
	k.mu.Unlock()
	go func() {
		defer close(proc.stopped)
		k.run(pctx, pod.DeepCopy(), c, proc)
	}()
}

func (k *Kubelet) killWithoutSignal(uid types.UID) {
	k.mu.Lock()
	if p := k.pods[uid]; p != nil {
		p.instanceGone.Store(true)
	}
	k.mu.Unlock()
	k.kill(uid)
}

func (k *Kubelet) kill(uid types.UID) {
	k.mu.Lock()
	p := k.pods[uid]
	delete(k.pods, uid)
	k.mu.Unlock()
	if p != nil {
		p.cancel()
		<-p.stopped
	}
}

// run keeps the pod's first container running until ctx ends.
func (k *Kubelet) run(ctx context.Context, pod *corev1.Pod, c *Containerd, proc *podProcess) {
	log := func(format string, args ...any) {
		f, err := os.OpenFile(filepath.Join(k.r.Dir, "logs", "kubelet.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %s/%s: %s\n", time.Now().Format(time.RFC3339Nano), pod.Namespace, pod.Name, fmt.Sprintf(format, args...))
			f.Close()
		}
	}
	sandbox := filepath.Join(k.r.Dir, "kubelet", string(pod.UID))
	container := pod.Spec.Containers[0]
	restarts := int32(0)
	for ctx.Err() == nil {
		env, err := k.prepare(ctx, pod, container, sandbox, c)
		if err != nil {
			log("prepare: %v", err)
			k.setStatus(ctx, pod, false, false, restarts, err.Error())
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		argv := append(append([]string{}, container.Command...), container.Args...)
		bin := k.binaries[strings.TrimSuffix(filepath.Base(argv[0]), ".exe")]
		if bin == "" {
			k.setStatus(ctx, pod, false, false, restarts, "no local binary for "+argv[0])
			return
		}
		cmdline := append([]string{bin}, append(argv[1:], nodeArgs(argv, c)...)...)
		if k.mountMode(pod.Spec.NodeName) == BindFilter {
			if cmdline, err = inSilo(sandbox+"-silo", k.bindings(container, sandbox), cmdline); err != nil {
				k.setStatus(ctx, pod, false, false, restarts, err.Error())
				return
			}
		}
		cmd := exec.Command(cmdline[0], cmdline[1:]...)
		cmd.Env = env
		logFile, _ := os.OpenFile(filepath.Join(k.r.Dir, "logs", "pod-"+pod.Name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			log("start: %v", err)
			logFile.Close()
			return
		}
		log("started %v (restart %d)", argv, restarts)
		proc.pid.Store(int64(cmd.Process.Pid))
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); proc.pid.Store(0); logFile.Close(); close(exited) }()
		k.setStatus(ctx, pod, true, false, restarts, "")
		ready, ticks := false, 0
		probe := time.NewTicker(500 * time.Millisecond)
	supervise:
		for {
			select {
			case <-ctx.Done():
				sig := syscall.SIGTERM
				if k.noStopSignal.Load() || proc.instanceGone.Load() {
					sig = syscall.SIGKILL
				}
				_ = syscall.Kill(-cmd.Process.Pid, sig)
				select {
				case <-exited:
				case <-time.After(15 * time.Second):
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					<-exited
				}
				probe.Stop()
				return
			case <-exited:
				log("exited: %v", cmd.ProcessState)
				break supervise
			case <-probe.C:
				ticks++
				if ticks%4 == 0 {
					_ = k.writeVolumes(ctx, pod, container, sandbox, true)
				}
				if now := k.probe(pod, container, env, cmd.Process.Pid); now != ready {
					ready = now
					k.setStatus(ctx, pod, true, ready, restarts, "")
				}
			}
		}
		probe.Stop()
		restarts++
		k.setStatus(ctx, pod, false, false, restarts, "restarting")
		if !sleep(ctx, time.Second) {
			return
		}
	}
}

// writeVolumes writes the container's ConfigMap, Secret and emptyDir
// volumes under its sandbox; with configMapsOnly it refreshes just the
// ConfigMaps, as kubelet does while a pod runs. Only changed files are
// rewritten, each atomically.
func (k *Kubelet) writeVolumes(ctx context.Context, pod *corev1.Pod, container corev1.Container, sandbox string, configMapsOnly bool) error {
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range container.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			continue
		}
		dir, err := k.volumeDir(pod, sandbox, m.Name, m.MountPath)
		if err != nil {
			return err
		}
		var data map[string][]byte
		switch {
		case configMapsOnly && v.ConfigMap == nil:
			continue
		case v.ConfigMap != nil:
			cm, err := k.r.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			data = map[string][]byte{}
			for key, val := range cm.Data {
				data[key] = []byte(val)
			}
		case v.Secret != nil:
			s, err := k.r.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			data = s.Data
		case v.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		if data != nil {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for key, val := range data {
				path := filepath.Join(dir, key)
				if old, err := os.ReadFile(path); err == nil && string(old) == string(val) {
					continue
				}
				if err := os.WriteFile(path+".tmp", val, 0o644); err != nil {
					return err
				}
				if err := os.Rename(path+".tmp", path); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// nodeArgs points the daemon at this node's containerd, as hostPath mounts
// of the node's socket and root would on a real node.
func nodeArgs(argv []string, c *Containerd) []string {
	if len(argv) < 2 {
		return nil
	}
	switch argv[1] {
	case "run":
		return []string{"--containerd-address", c.Address, "--snapshotter", c.Snapshotter, "--containerd-root", c.Root, "--containerd-config", c.ConfigFile}
	case "unpin":
		return []string{"--containerd-address", c.Address, "--snapshotter", c.Snapshotter}
	}
	return nil
}

func (k *Kubelet) probe(pod *corev1.Pod, container corev1.Container, env []string, pid int) bool {
	if container.ReadinessProbe == nil || container.ReadinessProbe.Exec == nil {
		return true
	}
	argv := container.ReadinessProbe.Exec.Command
	bin := k.binaries[strings.TrimSuffix(filepath.Base(argv[0]), ".exe")]
	if bin == "" {
		return false
	}
	cmdline := append([]string{bin}, argv[1:]...)
	if k.mountMode(pod.Spec.NodeName) == BindFilter {
		cmdline = inPodView(pid, cmdline)
	}
	cmd := exec.Command(cmdline[0], cmdline[1:]...)
	cmd.Env = env
	return cmd.Run() == nil
}

// prepare writes the pod's volumes into its sandbox and returns the
// container's environment.
func (k *Kubelet) prepare(ctx context.Context, pod *corev1.Pod, container corev1.Container, sandbox string, c *Containerd) ([]string, error) {
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		return nil, err
	}
	if err := k.writeVolumes(ctx, pod, container, sandbox, false); err != nil {
		return nil, err
	}
	token, err := k.r.podToken(ctx, pod)
	if err != nil {
		return nil, err
	}
	// The ServiceAccount volume as the node's mount mode gives it to a
	// HostProcess container (on Server 2019 only under the sandbox, never
	// at its mountPath), and the in-cluster environment kubelet sets, not a
	// kubeconfig.
	saDir, err := k.volumeDir(pod, sandbox, serviceAccountVolume, serviceAccountMountPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(saDir, 0o755); err != nil {
		return nil, err
	}
	for name, data := range map[string][]byte{"token": []byte(token), "ca.crt": k.r.pki.caPEM, "namespace": []byte(pod.Namespace)} {
		if err := os.WriteFile(filepath.Join(saDir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	apiURL, err := url.Parse(k.r.RESTConfig.Host)
	if err != nil {
		return nil, err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "CONTAINER_SANDBOX_MOUNT_POINT=" + sandbox,
		"KUBERNETES_SERVICE_HOST=" + apiURL.Hostname(), "KUBERNETES_SERVICE_PORT=" + apiURL.Port()}
	for _, e := range container.Env {
		val := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			switch e.ValueFrom.FieldRef.FieldPath {
			case "spec.nodeName":
				val = pod.Spec.NodeName
			case "metadata.name":
				val = pod.Name
			case "metadata.namespace":
				val = pod.Namespace
			}
		}
		env = append(env, e.Name+"="+val)
	}
	return env, nil
}

func (k *Kubelet) setStatus(ctx context.Context, pod *corev1.Pod, running, ready bool, restarts int32, reason string) {
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := k.r.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return nil
		}
		now := metav1.Now()
		readyStatus := corev1.ConditionFalse
		if ready {
			readyStatus = corev1.ConditionTrue
		}
		cs := corev1.ContainerStatus{Name: pod.Spec.Containers[0].Name, Image: pod.Spec.Containers[0].Image, Ready: ready, RestartCount: restarts, Started: &running}
		if running {
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "Restarting", Message: reason}
		}
		cur.Status.Phase = corev1.PodRunning
		cur.Status.HostIP, cur.Status.PodIP = "127.0.0.1", "127.0.0.1"
		if cur.Status.StartTime == nil {
			cur.Status.StartTime = &now
		}
		cur.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
		cur.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: readyStatus, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: readyStatus, LastTransitionTime: now},
		}
		_, err = k.r.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

// heartbeat renews each node's Lease and Ready condition, as kubelet does,
// so the node lifecycle controller keeps the nodes Ready.
func (k *Kubelet) heartbeat(ctx context.Context) {
	for {
		k.mu.Lock()
		names := make([]string, 0, len(k.nodes))
		for n := range k.nodes {
			names = append(names, n)
		}
		k.mu.Unlock()
		for _, n := range names {
			k.renew(ctx, n)
		}
		if !sleep(ctx, 3*time.Second) {
			return
		}
	}
}

func (k *Kubelet) renew(ctx context.Context, node string) {
	now := metav1.NewMicroTime(time.Now())
	leases := k.r.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	l, err := leases.Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		holder, secs := node, int32(40)
		_, _ = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now}}, metav1.CreateOptions{})
	} else if err == nil {
		l.Spec.RenewTime = &now
		_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	cond := []map[string]any{{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "rig kubelet stand-in", "lastHeartbeatTime": time.Now().UTC().Format(time.RFC3339), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": cond}})
	_, _ = k.r.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
