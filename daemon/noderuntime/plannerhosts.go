package noderuntime

import (
	"context"
	"net/http"
	"path"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/google/go-containerregistry/pkg/authn"
)

// PlannerTransport carries the registry planner's requests (made by
// go-containerregistry to the image's own registry) to the hosts the
// node's pulls use: the hosts directory's mirrors and pull-through caches
// with their CAs, client certificates and headers, or the legacy
// registry.mirrors, tried in order as containerd's resolver tries them
// (v2.4.2 core/remotes/docker/resolver.go Resolve: the next host after a
// connection error, a 404 or another error status). Authentication stays
// go-containerregistry's: a 401 goes back to it, and its token request
// (not under /v2) goes where the challenge said. So a registry the node
// cannot reach directly, or that only a mirror serves, is planned as it
// will be pulled.
func (c *Containerd) PlannerTransport(ctx context.Context, base http.RoundTripper) http.RoundTripper {
	return hostsTransport{hosts: c.registryHosts(ctx), base: base}
}

// PlannerKeychain answers the planner's credential requests as the pull's
// are answered: pull secrets and cloud helpers, then the node's
// registry.configs auth.
func (c *Containerd) PlannerKeychain() authn.Keychain { return plannerKeychain{c} }

type plannerKeychain struct{ c *Containerd }

func (k plannerKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	user, secret, err := k.c.credentials(r.RegistryStr())
	switch {
	case err != nil:
		return nil, err
	case user == "" && secret != "":
		return authn.FromConfig(authn.AuthConfig{IdentityToken: secret}), nil
	case user == "" && secret == "":
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: user, Password: secret}, nil
}

type hostsTransport struct {
	hosts docker.RegistryHosts
	base  http.RoundTripper
}

func (t hostsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/v2/") && req.URL.Path != "/v2" {
		return t.base.RoundTrip(req)
	}
	refHost := req.URL.Host
	if refHost == "index.docker.io" {
		// go-containerregistry's name for Docker Hub; containerd's is
		// docker.io, and hosts.toml folders are named by it.
		refHost = "docker.io"
	}
	hosts, err := t.hosts(refHost)
	if err != nil {
		return nil, err
	}
	need := docker.HostCapabilityPull
	if tagged := strings.Contains(req.URL.Path, "/manifests/") && !strings.Contains(path.Base(req.URL.Path), ":"); tagged {
		need = docker.HostCapabilityResolve
	}
	var candidates []docker.RegistryHost
	for _, h := range hosts {
		if h.Capabilities.Has(need) {
			candidates = append(candidates, h)
		}
	}
	if len(candidates) == 0 {
		return t.base.RoundTrip(req)
	}
	var resp *http.Response
	for i, h := range candidates {
		resp, err = t.send(req, refHost, h)
		last := i == len(candidates)-1
		if last || (err == nil && (resp.StatusCode < 400 || resp.StatusCode == http.StatusUnauthorized)) {
			return resp, err
		}
		if err == nil {
			resp.Body.Close()
		}
	}
	return resp, err
}

// send makes req to host h: its scheme, address and path prefix, ns= for a
// mirror (containerd's isProxy), its headers and its client's transport.
func (t hostsTransport) send(req *http.Request, refHost string, h docker.RegistryHost) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Host = ""
	out.URL.Scheme, out.URL.Host = h.Scheme, h.Host
	rest := strings.TrimPrefix(req.URL.Path, "/v2")
	out.URL.Path = strings.TrimSuffix(h.Path, "/") + rest
	if refHost != h.Host && (refHost != "docker.io" || h.Host != "registry-1.docker.io") && rest != "/" && rest != "" {
		q := out.URL.Query()
		q.Set("ns", refHost)
		out.URL.RawQuery = q.Encode()
	}
	for k, v := range h.Header {
		out.Header[k] = append([]string(nil), v...)
	}
	rt := t.base
	if h.Client != nil && h.Client.Transport != nil {
		rt = h.Client.Transport
	}
	return rt.RoundTrip(out)
}
