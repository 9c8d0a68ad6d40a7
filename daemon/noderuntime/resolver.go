package noderuntime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
)

// resolver resolves registry hosts exactly as the node's CRI does for a
// client pull, with credentials from the daemon's keychain.
func (c *Containerd) resolver(ctx context.Context) remotes.Resolver {
	return docker.NewResolver(docker.ResolverOptions{Hosts: c.registryHosts(ctx)})
}

// registryHosts is CRI's registryHosts (containerd v2.4.2
// internal/cri/server/images/image_pull.go; v1.7.35
// pkg/cri/server/image_pull.go the same but for TLS): the hosts
// directories when config_path is set, else the legacy registry.mirrors
// and registry.configs. Without either these are containerd's defaults,
// plain HTTP only for localhost.
func (c *Containerd) registryHosts(ctx context.Context) docker.RegistryHosts {
	if len(c.CRI.HostsDirs) > 0 {
		return config.ConfigureHosts(ctx, config.HostOptions{Credentials: c.credentials, HostDir: hostDirFromRoots(c.CRI.HostsDirs)})
	}
	return c.legacyHosts
}

// legacyHosts is CRI's registryHosts without config_path: each of the
// host's mirror endpoints (or "*"'s), then the host itself unless a mirror
// is it, each with its registry.configs TLS (1.7 only) and auth.
func (c *Containerd) legacyHosts(host string) ([]docker.RegistryHost, error) {
	endpoints, err := legacyEndpoints(c.CRI.Mirrors, host)
	if err != nil {
		return nil, err
	}
	var hosts []docker.RegistryHost
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("parse registry endpoint %q from mirrors: %w", e, err)
		}
		reg := c.CRI.Registries[u.Host]
		transport := docker.DefaultHTTPTransport(nil)
		if reg.TLS != nil {
			if transport.TLSClientConfig, err = tlsConfig(*reg.TLS); err != nil {
				return nil, fmt.Errorf("TLS for registry %q: %w", e, err)
			}
		} else if docker.IsLocalhost(host) && u.Scheme == "http" {
			transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
		client := &http.Client{Transport: transport}
		if u.Path == "" {
			u.Path = "/v2"
		}
		hosts = append(hosts, docker.RegistryHost{
			Client:       client,
			Authorizer:   docker.NewDockerAuthorizer(docker.WithAuthClient(client), docker.WithAuthCreds(c.credentials)),
			Host:         u.Host,
			Scheme:       u.Scheme,
			Path:         u.Path,
			Capabilities: docker.HostCapabilityResolve | docker.HostCapabilityPull,
		})
	}
	return hosts, nil
}

// legacyEndpoints is CRI's registryEndpoints (v1.7.35
// pkg/cri/server/image_pull.go; v2.4.2 the same).
func legacyEndpoints(mirrors map[string][]string, host string) ([]string, error) {
	endpoints, ok := mirrors[host]
	if !ok {
		endpoints = mirrors["*"]
	}
	endpoints = append([]string(nil), endpoints...)
	defaultHost, err := docker.DefaultHost(host)
	if err != nil {
		return nil, fmt.Errorf("get default host: %w", err)
	}
	for i := range endpoints {
		if endpoints[i], err = addDefaultScheme(endpoints[i]); err != nil {
			return nil, fmt.Errorf("parse endpoint url: %w", err)
		}
	}
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil {
			return nil, fmt.Errorf("parse endpoint url: %w", err)
		}
		if u.Host == host {
			return endpoints, nil
		}
	}
	return append(endpoints, defaultScheme(defaultHost)+"://"+defaultHost), nil
}

// addDefaultScheme and defaultScheme are CRI's: https, but http for
// localhost.
func addDefaultScheme(endpoint string) (string, error) {
	if strings.Contains(endpoint, "://") {
		return endpoint, nil
	}
	u, err := url.Parse("dummy://" + endpoint)
	if err != nil {
		return "", err
	}
	return defaultScheme(u.Host) + "://" + endpoint, nil
}

func defaultScheme(host string) string {
	if docker.IsLocalhost(host) {
		return "http"
	}
	return "https"
}

// tlsConfig is CRI 1.7's getTLSConfig (v1.7.35 pkg/cri/server/image_pull.go).
func tlsConfig(t nodeconfig.TLS) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("cert_file and key_file must be set together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load cert file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("system cert pool: %w", err)
		}
		ca, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("load CA file: %w", err)
		}
		pool.AppendCertsFromPEM(ca)
		cfg.RootCAs = pool
	}
	return cfg, nil
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

// credentials answers the registry's auth challenge as CRI does: the pull
// secret kubelet would hand it (here the daemon's keychain, pull secrets
// and the cloud helpers), else the node's registry.configs auth for the
// host (containerd v2.4.2 internal/cri/server/images/image_pull.go
// PullImage's credentials; v1.7.35 registryHosts, with or without
// config_path).
func (c *Containerd) credentials(host string) (string, string, error) {
	user, secret, found, err := c.keychainCredentials(host)
	if err != nil || found {
		return user, secret, err
	}
	if reg, ok := c.CRI.Registries[host]; ok && reg.Auth != nil {
		return parseAuth(*reg.Auth)
	}
	return "", "", nil
}

func (c *Containerd) keychainCredentials(host string) (user, secret string, found bool, err error) {
	if c.Keychain == nil {
		return "", "", false, nil
	}
	if host == "registry-1.docker.io" {
		host = name.DefaultRegistry
	}
	reg, err := name.NewRegistry(host, name.WeakValidation)
	if err != nil {
		return "", "", false, nil
	}
	auth, err := c.Keychain.Resolve(reg)
	if err != nil {
		return "", "", false, err
	}
	if auth == authn.Anonymous {
		return "", "", false, nil
	}
	cfg, err := auth.Authorization()
	if err != nil {
		return "", "", false, err
	}
	if cfg.IdentityToken != "" {
		return "", cfg.IdentityToken, true, nil
	}
	if cfg.Username == "" && cfg.Password == "" {
		return "", "", false, nil
	}
	return cfg.Username, cfg.Password, true, nil
}

// parseAuth is CRI's ParseAuth for a configured auth (which has no server
// address): user and password, else the identity token, else the base64
// "user:password".
func parseAuth(a nodeconfig.Auth) (string, string, error) {
	switch {
	case a.Username != "":
		return a.Username, a.Password, nil
	case a.IdentityToken != "":
		return "", a.IdentityToken, nil
	case a.Auth != "":
		decoded, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			return "", "", err
		}
		user, password, ok := strings.Cut(string(decoded), ":")
		if !ok {
			return "", "", fmt.Errorf("invalid decoded auth")
		}
		return user, strings.Trim(password, "\x00"), nil
	}
	return "", "", nil
}
