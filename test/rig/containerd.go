//go:build linux

package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Containerd is one containerd daemon of the rig, standing in for a node's
// runtime: its own root, state and socket, the CRI image service on, and the
// rig registry reachable over plain HTTP through CRI's hosts.toml.
type Containerd struct {
	Name string
	// Line is the containerd line ("1.7", "2.1", "2.4") and Version its
	// release.
	Line, Version string
	Address       string
	Snapshotter   string
	// HostsDir holds the registry hosts.toml files (ctr --hosts-dir).
	HostsDir string
	// ConfigFile is its configuration, as a node's daemon would read it.
	ConfigFile string
	Root       string
	// DebugAddress is its debug socket, which serves net/http/pprof.
	DebugAddress string
	proc         *process
}

const containerdConfig = `version = 3
root = '{{.Root}}'
state = '{{.State}}'
disabled_plugins = ['io.containerd.nri.v1.nri']

[grpc]
  address = '{{.Socket}}'

[ttrpc]
  address = '{{.Socket}}.ttrpc'

[debug]
  address = '{{.Socket}}.debug'

[plugins.'io.containerd.internal.v1.opt']
  path = '{{.Opt}}'

[plugins.'io.containerd.cri.v1.images']
  snapshotter = '{{.Snapshotter}}'
  discard_unpacked_layers = {{.Discard}}
{{.ImagesConfig}}
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '{{.ConfigPath}}'

# The Transfer service unpacks only into the snapshotters of its
# unpack_config, by default the platform's default one (v2.4.2
# plugins/transfer/plugin.go configureUnpackPlatforms): overlayfs here,
# windows on a Windows node. With another snapshotter every Transfer pull
# (CRI's and the daemon's) fails "no unpack platforms defined".
[[plugins.'io.containerd.transfer.v1.local'.unpack_config]]
  platform = '{{.Platform}}'
  snapshotter = '{{.Snapshotter}}'
{{.Extra}}
`

// containerd17Config is the same in 1.7's configuration format (version
// 2, the CRI plugin as io.containerd.grpc.v1.cri), as EKS writes it on its
// Windows AMIs up to Kubernetes 1.33.
const containerd17Config = `version = 2
root = '{{.Root}}'
state = '{{.State}}'

[grpc]
  address = '{{.Socket}}'

[ttrpc]
  address = '{{.Socket}}.ttrpc'

[debug]
  address = '{{.Socket}}.debug'

[plugins.'io.containerd.internal.v1.opt']
  path = '{{.Opt}}'

[plugins.'io.containerd.grpc.v1.cri'.containerd]
  snapshotter = '{{.Snapshotter}}'
  discard_unpacked_layers = {{.Discard}}

[plugins.'io.containerd.grpc.v1.cri'.registry]
  config_path = '{{.ConfigPath}}'
{{.Extra}}
`

const hostsTOML = `server = "http://{{.Registry}}"

[host."http://{{.Registry}}"]
  capabilities = ["pull", "resolve"]
`

// ContainerdOptions shape one containerd like a node's.
type ContainerdOptions struct {
	// Line is "1.7", "2.1" or "2.4"; "" is $WINIMAGE_RIG_CONTAINERD, else
	// 2.4.
	Line string
	// DiscardUnpackedLayers sets the CRI option of that name.
	DiscardUnpackedLayers bool
	// Mirror is a registry host name that resolves nowhere, whose pulls the
	// hosts directory sends to the rig registry: a node behind a mirror or
	// pull-through cache.
	Mirror string
	// PrivateCA serves the rig registry's content over HTTPS as well, with
	// a certificate of the rig's own CA, and trusts that CA for it in the
	// hosts directory only (hosts.toml ca), as a node whose registry or
	// pull-through cache sits behind a corporate CA. Rig.PrivateCARegistry
	// names that front.
	PrivateCA bool
	// NoHostsDir leaves config_path empty, as containerd 1.7 on Windows
	// has it by default: CRI then uses the legacy registry settings.
	NoHostsDir bool
	// Extra is appended to config.toml: whole tables, with their full
	// names (the legacy registry.mirrors and configs, say).
	Extra string
	// Debug logs at debug level, where CRI says how it pulls each image.
	Debug bool
	// ImagesConfig are more keys of the CRI images plugin's section (2.x
	// lines only), one per line: a node's own image settings.
	ImagesConfig string
	// Snapshotter is "" (overlayfs, native where overlayfs cannot load) or
	// "native": no rebase capability, so containerd unpacks each image's
	// layers one after the other (v2.4.2 core/unpack/unpacker.go
	// supportParallel), as on a Windows node, whose windows snapshotter
	// declares no capabilities (v2.1.9 plugins/snapshots/windows/windows.go).
	Snapshotter string
}

const mirrorTOML = `server = "https://{{.Mirror}}"

[host."http://{{.Registry}}"]
  capabilities = ["pull", "resolve"]
`

const privateCATOML = `server = "https://{{.TLSRegistry}}"

[host."https://{{.TLSRegistry}}"]
  capabilities = ["pull", "resolve"]
  ca = '{{.CAFile}}'
`

// PrivateCARegistry is the rig registry's HTTPS front (host:port), whose
// certificate only the rig CA (file caFile) vouches for. It listens on the
// machine's first non-loopback IPv4 address: containerd's default hosts
// (no hosts directory) skip TLS verification for loopback registries
// (v2.4.2 core/remotes/docker/config/hosts.go ConfigureHosts), which would
// hide a resolver that ignores the node's CA.
func (r *Rig) PrivateCARegistry() (host, caFile string, err error) {
	r.privateCAOnce.Do(func() {
		var ip net.IP
		if ip, err = nonLoopbackIPv4(); err != nil {
			return
		}
		var cert, key string
		if cert, key, err = r.pki.issueServing("registry", nil, []net.IP{ip}); err != nil {
			return
		}
		r.privateCAHost, err = r.Registry.ServeTLS(ip, cert, key)
	})
	if err == nil && r.privateCAHost == "" {
		err = errors.New("the private-CA registry did not start")
	}
	return r.privateCAHost, r.pki.CACert, err
}

// ErrNoNonLoopbackAddress: this machine has no address a private-CA
// registry could listen on without containerd trusting it as loopback.
var ErrNoNonLoopbackAddress = errors.New("no non-loopback IPv4 address on this machine")

func nonLoopbackIPv4() (net.IP, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.To4(), nil
		}
	}
	return nil, ErrNoNonLoopbackAddress
}

// StartContainerd starts a containerd named name under the rig folder, of
// the line $WINIMAGE_RIG_CONTAINERD names (default 2.4). It prefers
// overlayfs and falls back to native where overlayfs cannot load.
func (r *Rig) StartContainerd(ctx context.Context, name string) (*Containerd, error) {
	return r.StartContainerdWith(ctx, name, ContainerdOptions{})
}

// StartContainerdWith is StartContainerd with options.
func (r *Rig) StartContainerdWith(ctx context.Context, name string, o ContainerdOptions) (*Containerd, error) {
	if o.Line == "" {
		o.Line = os.Getenv(ContainerdLineEnv)
	}
	if o.Line == "" {
		o.Line = "2.4"
	}
	first := "overlayfs"
	if o.Snapshotter != "" {
		first = o.Snapshotter
	}
	c, err := r.startContainerdWith(ctx, name, first, o)
	if err == errSnapshotterUnavailable && first == "overlayfs" {
		c, err = r.startContainerdWith(ctx, name, "native", o)
	}
	if err != nil {
		return nil, err
	}
	r.containerds = append(r.containerds, c)
	return c, nil
}

var errSnapshotterUnavailable = fmt.Errorf("snapshotter unavailable")

func (r *Rig) startContainerdWith(ctx context.Context, name, snapshotter string, o ContainerdOptions) (*Containerd, error) {
	root, err := CacheDir()
	if err != nil {
		return nil, err
	}
	binary, _, err := containerdBinaries(root, o.Line)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(r.Dir, "containerd", name)
	// Unix socket paths are limited to 108 bytes; keep the socket short.
	sockDir, err := os.MkdirTemp("", "wi-ctrd-")
	if err != nil {
		return nil, err
	}
	r.cleanups = append(r.cleanups, func() { os.RemoveAll(sockDir) })
	vals := map[string]string{
		"Root":         filepath.Join(base, "root"),
		"State":        filepath.Join(base, "state"),
		"Opt":          filepath.Join(base, "opt"),
		"CertsDir":     filepath.Join(base, "certs.d"),
		"Socket":       filepath.Join(sockDir, "containerd.sock"),
		"Snapshotter":  snapshotter,
		"Registry":     r.Registry.Host(),
		"Discard":      fmt.Sprint(o.DiscardUnpackedLayers),
		"Platform":     "linux/" + runtime.GOARCH,
		"ImagesConfig": o.ImagesConfig,
		"ConfigPath":   filepath.Join(base, "certs.d"),
		"Extra":        o.Extra,
	}
	if o.NoHostsDir {
		vals["ConfigPath"] = ""
	}
	if o.ImagesConfig != "" && o.Line == "1.7" {
		return nil, fmt.Errorf("ImagesConfig is for the 2.x lines; containerd 1.7 has no images plugin")
	}
	for _, d := range []string{vals["Root"], vals["State"], vals["Opt"]} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	config := containerdConfig
	if o.Line == "1.7" {
		config = containerd17Config
	}
	if err := renderFile(filepath.Join(base, "config.toml"), config, vals); err != nil {
		return nil, err
	}
	if err := renderFile(filepath.Join(vals["CertsDir"], r.Registry.Host(), "hosts.toml"), hostsTOML, vals); err != nil {
		return nil, err
	}
	if o.Mirror != "" {
		vals["Mirror"] = o.Mirror
		if err := renderFile(filepath.Join(vals["CertsDir"], o.Mirror, "hosts.toml"), mirrorTOML, vals); err != nil {
			return nil, err
		}
	}
	if o.PrivateCA {
		host, ca, err := r.PrivateCARegistry()
		if err != nil {
			return nil, err
		}
		vals["TLSRegistry"], vals["CAFile"] = host, ca
		if err := renderFile(filepath.Join(vals["CertsDir"], host, "hosts.toml"), privateCATOML, vals); err != nil {
			return nil, err
		}
	}
	level := "info"
	if o.Debug {
		level = "debug"
	}
	p, err := r.start("containerd-"+name, binary, "--config", filepath.Join(base, "config.toml"), "--log-level", level)
	if err != nil {
		return nil, err
	}
	c := &Containerd{Name: name, Line: o.Line, Version: ContainerdLines[o.Line], Address: vals["Socket"], Snapshotter: snapshotter, Root: vals["Root"], HostsDir: vals["CertsDir"], ConfigFile: filepath.Join(base, "config.toml"), DebugAddress: vals["Socket"] + ".debug", proc: p}
	if err := waitFor(ctx, p, 30*time.Second, c.answers); err != nil {
		return nil, err
	}
	ok, err := snapshotterLoaded(ctx, c.Address, snapshotter)
	if err != nil {
		return nil, err
	}
	if !ok {
		p.stop(10 * time.Second)
		r.forget(p)
		os.RemoveAll(base)
		return nil, errSnapshotterUnavailable
	}
	return c, nil
}

// Restart stops this containerd and starts it again on the same root and
// socket, as a node's runtime restarting under a running daemon.
func (c *Containerd) Restart(ctx context.Context, r *Rig) error {
	c.proc.stop(15 * time.Second)
	r.forget(c.proc)
	p, err := r.start(c.proc.name, c.proc.cmd.Path, c.proc.cmd.Args[1:]...)
	if err != nil {
		return err
	}
	c.proc = p
	return waitFor(ctx, p, 30*time.Second, c.answers)
}

// answers is the readiness check: containerd serves its version API.
func (c *Containerd) answers(ctx context.Context) error {
	client, err := containerd.New(c.Address, containerd.WithTimeout(time.Second))
	if err != nil {
		return err
	}
	defer client.Close()
	_, err = client.Version(ctx)
	return err
}

// Stop stops this containerd.
func (c *Containerd) Stop() { c.proc.stop(15 * time.Second) }

// Log is what containerd has logged so far.
func (c *Containerd) Log() ([]byte, error) { return os.ReadFile(c.proc.log) }

// PID is the containerd process id.
func (c *Containerd) PID() int { return c.proc.PID() }

func snapshotterLoaded(ctx context.Context, address, snapshotter string) (bool, error) {
	client, err := containerd.New(address)
	if err != nil {
		return false, err
	}
	defer client.Close()
	resp, err := client.IntrospectionService().Plugins(ctx, fmt.Sprintf("type==io.containerd.snapshotter.v1,id==%s", snapshotter))
	if err != nil {
		return false, err
	}
	for _, p := range resp.Plugins {
		if p.InitErr == nil {
			return true, nil
		}
	}
	return false, nil
}

func renderFile(path, text string, vals map[string]string) error {
	var buf bytes.Buffer
	if err := template.Must(template.New(filepath.Base(path)).Parse(text)).Execute(&buf, vals); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// mountsUnder lists the mount points below dir in this mount namespace.
func mountsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var found []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			found = append(found, fields[4])
		}
	}
	return found, nil
}

// criClient opens a CRI ImageService client on this containerd: the same API
// kubelet uses, so tests see images exactly as kubelet would.
func (c *Containerd) criClient() (runtimeapi.ImageServiceClient, func(), error) {
	conn, err := grpc.NewClient("unix://"+c.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return runtimeapi.NewImageServiceClient(conn), func() { conn.Close() }, nil
}

// CRIImages lists the images as kubelet's CRI ImageService reports them.
func (c *Containerd) CRIImages(ctx context.Context) ([]*runtimeapi.Image, error) {
	client, done, err := c.criClient()
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := client.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, err
	}
	return resp.Images, nil
}

// CRIPull pulls ref through CRI PullImage, which is what kubelet does.
func (c *Containerd) CRIPull(ctx context.Context, ref string) (string, error) {
	client, done, err := c.criClient()
	if err != nil {
		return "", err
	}
	defer done()
	resp, err := client.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		return "", err
	}
	return resp.ImageRef, nil
}

// ImagesLabelled lists the k8s.io image records that carry label key, read
// with the containerd client (CRI does not show labels, only `pinned`).
func (c *Containerd) ImagesLabelled(ctx context.Context, key string) ([]string, error) {
	client, err := containerd.New(c.Address, containerd.WithDefaultNamespace("k8s.io"))
	if err != nil {
		return nil, err
	}
	defer client.Close()
	imgs, err := client.ImageService().List(ctx, fmt.Sprintf("labels.%q", key))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	return names, nil
}

// RemoveImage is CRI RemoveImage of ref (kubelet's image removal).
func (c *Containerd) RemoveImage(ctx context.Context, ref string) error {
	client, done, err := c.criClient()
	if err != nil {
		return err
	}
	defer done()
	_, err = client.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	return err
}
