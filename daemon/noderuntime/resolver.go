package noderuntime

import (
	"context"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
)

// resolver resolves registry hosts exactly as the node's CRI does: its own
// config.ConfigureHosts over the node's hosts directories (containerd v2.4.2
// internal/cri/server/images/image_pull.go registryHosts; v1.7.35
// pkg/cri/server/image_pull.go the same), with credentials from the
// daemon's keychain. Without a hosts directory these are containerd's
// defaults, plain HTTP only for localhost.
func (c *Containerd) resolver(ctx context.Context) remotes.Resolver {
	opts := config.HostOptions{Credentials: c.credentials}
	if len(c.HostsDirs) > 0 {
		opts.HostDir = hostDirFromRoots(c.HostsDirs)
	}
	return docker.NewResolver(docker.ResolverOptions{Hosts: config.ConfigureHosts(ctx, opts)})
}

// hostDirFromRoots is CRI's: the first root with a folder for the host
// (containerd v2.4.2 internal/cri/server/images/image_pull.go
// hostDirFromRoots).
func hostDirFromRoots(roots []string) func(string) (string, error) {
	rootfn := make([]func(string) (string, error), len(roots))
	for i := range roots {
		rootfn[i] = config.HostDirFromRoot(roots[i])
	}
	return func(host string) (dir string, err error) {
		for _, fn := range rootfn {
			dir, err = fn(host)
			if (err != nil && !errdefs.IsNotFound(err)) || dir != "" {
				break
			}
		}
		return dir, err
	}
}

// credentials answers the registry's auth challenge from the keychain.
func (c *Containerd) credentials(host string) (string, string, error) {
	if c.Keychain == nil {
		return "", "", nil
	}
	if host == "registry-1.docker.io" {
		host = name.DefaultRegistry
	}
	reg, err := name.NewRegistry(host, name.WeakValidation)
	if err != nil {
		return "", "", nil
	}
	auth, err := c.Keychain.Resolve(reg)
	if err != nil {
		return "", "", err
	}
	cfg, err := auth.Authorization()
	if err != nil {
		return "", "", err
	}
	if cfg.IdentityToken != "" {
		return "", cfg.IdentityToken, nil
	}
	return cfg.Username, cfg.Password, nil
}
