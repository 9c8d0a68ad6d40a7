//go:build linux

package rig

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure Start.
type Options struct {
	// Dir holds every file of the rig (data, logs, kubeconfig, sockets'
	// configs). Empty means a new temporary folder, removed on Stop.
	Dir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// NoContainerd skips the default node containerd.
	NoContainerd bool
	// Controllers overrides the controller-manager's --controllers (for
	// benchmarks whose nodes have no kubelet to keep them Ready).
	Controllers string
}

// Rig is a running set of real cluster components on loopback.
type Rig struct {
	Dir        string
	Kubeconfig string
	RESTConfig *rest.Config
	Client     kubernetes.Interface
	Registry   *Registry
	// Containerd is the default node runtime (nil with Options.NoContainerd).
	Containerd *Containerd
	Binaries   Binaries

	bins       Binaries
	ownDir     bool
	log        io.Writer
	etcdURL    string
	pki        *pki
	adminToken string
	apiServer  *process
	// apiServerArgs start kube-apiserver again on the same port and PKI.
	apiServerArgs []string
	procs         []*process
	containerds   []*Containerd
	cleanups      []func()
	controllers   string

	privateCAOnce sync.Once
	privateCAHost string
}

// Start builds (or finds in the cache) every component and starts them in
// order. On error, whatever was started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Rig, err error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	bins, err := Build(ctx, log)
	if err != nil {
		return nil, err
	}
	r := &Rig{bins: bins, Binaries: bins, log: log, controllers: opts.Controllers}
	if r.controllers == "" {
		r.controllers = DefaultControllers
	}
	if opts.Dir == "" {
		if r.Dir, err = os.MkdirTemp("", "winimage-rig-"); err != nil {
			return nil, err
		}
		r.ownDir = true
	} else {
		if r.Dir, err = filepath.Abs(opts.Dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			r.Stop()
		}
	}()

	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"etcd", r.startEtcd},
		{"kube-apiserver", r.startAPIServer},
		{"kube-controller-manager", r.startControllerManager},
		{"kube-scheduler", r.startScheduler},
		{"kwok", r.startKwok},
		{"registry", func(context.Context) error {
			reg, err := NewRegistry()
			r.Registry = reg
			return err
		}},
	}
	if !opts.NoContainerd {
		steps = append(steps, struct {
			name string
			run  func(context.Context) error
		}{"containerd", func(ctx context.Context) error {
			c, err := r.StartContainerd(ctx, "node")
			r.Containerd = c
			return err
		}})
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("start %s: %w", s.name, err)
		}
		fmt.Fprintf(log, "rig: %s up in %s\n", s.name, time.Since(start).Round(time.Millisecond))
	}
	return r, r.writeEnv()
}

// start runs a component and remembers it for Stop.
func (r *Rig) start(name, bin string, args ...string) (*process, error) {
	p, err := startProcess(r.Dir, name, bin, args...)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	return p, nil
}

func (r *Rig) forget(p *process) {
	for i, q := range r.procs {
		if q == p {
			r.procs = append(r.procs[:i], r.procs[i+1:]...)
			return
		}
	}
}

// PIDs maps component names to process ids.
func (r *Rig) PIDs() map[string]int {
	pids := map[string]int{}
	for _, p := range r.procs {
		pids[p.name] = p.PID()
	}
	return pids
}

// Stop stops every component in reverse start order (so the apiserver goes
// before etcd and does not hang on it), closes the registry, checks that
// nothing is left mounted under the rig folder, and removes the folder if
// Start created it.
func (r *Rig) Stop() error {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].stop(20 * time.Second)
	}
	if r.Registry != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.Registry.shutdown(ctx)
		cancel()
	}
	var errs []string
	if mounts, err := mountsUnder(r.Dir); err == nil {
		// containerd unmounts its own temporary mounts; anything left is a
		// leak to report, after a best-effort cleanup.
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
			errs = append(errs, "left mounted: "+m)
		}
	}
	for _, c := range r.cleanups {
		c()
	}
	if r.ownDir {
		os.RemoveAll(r.Dir)
	}
	if len(errs) > 0 {
		return fmt.Errorf("rig teardown: %s", strings.Join(errs, "; "))
	}
	return nil
}

// writeEnv writes DIR/rig.env for shells and other tools.
func (r *Rig) writeEnv() error {
	lines := []string{
		"KUBECONFIG=" + r.Kubeconfig,
		"WINIMAGE_RIG_DIR=" + r.Dir,
		"WINIMAGE_RIG_REGISTRY=" + r.Registry.Host(),
		"WINIMAGE_RIG_CTR=" + r.bins.Ctr,
		"WINIMAGE_RIG_CRICTL=" + r.bins.Crictl,
	}
	if r.Containerd != nil {
		lines = append(lines,
			"WINIMAGE_RIG_CONTAINERD_ADDRESS="+r.Containerd.Address,
			"WINIMAGE_RIG_CONTAINERD_SNAPSHOTTER="+r.Containerd.Snapshotter)
	}
	pids := r.PIDs()
	names := make([]string, 0, len(pids))
	for n := range pids {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		lines = append(lines, fmt.Sprintf("WINIMAGE_RIG_PID_%s=%d", envName(n), pids[n]))
	}
	return os.WriteFile(filepath.Join(r.Dir, "rig.env"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func envName(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(s))
}
