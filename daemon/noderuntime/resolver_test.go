package noderuntime

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
)

func TestLegacyEndpointsAreCRIs(t *testing.T) {
	// containerd v1.7.35 pkg/cri/server/image_pull_test.go
	// TestRegistryEndpoints, the cases that apply to a mirror list.
	mirrors := map[string][]string{
		"docker.io":      {"https://mirror.example", "registry.example:5000"},
		"self.example":   {"https://a.example", "https://self.example"},
		"*":              {"https://any.example"},
		"localhost:5000": {"localhost:5001"},
	}
	cases := map[string][]string{
		"docker.io":      {"https://mirror.example", "https://registry.example:5000", "https://registry-1.docker.io"},
		"self.example":   {"https://a.example", "https://self.example"},
		"other.example":  {"https://any.example", "https://other.example"},
		"localhost:5000": {"http://localhost:5001", "http://localhost:5000"},
	}
	for host, want := range cases {
		got, err := legacyEndpoints(mirrors, host)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %q, %v; want %q", host, got, err, want)
		}
	}
	if got, _ := legacyEndpoints(nil, "r.example"); !slices.Equal(got, []string{"https://r.example"}) {
		t.Errorf("no mirrors: %q", got)
	}
}

// staticKeychain answers for one registry.
type staticKeychain struct{ registry, user, password string }

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != k.registry {
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: k.user, Password: k.password}, nil
}

func TestCredentialsArePullSecretsThenTheNodesRegistryAuth(t *testing.T) {
	c := &Containerd{
		Keychain: staticKeychain{registry: "secret.example", user: "pod", password: "secret"},
		CRI: nodeconfig.Config{Registries: map[string]nodeconfig.Registry{
			"secret.example": {Auth: &nodeconfig.Auth{Username: "node", Password: "config"}},
			"node.example":   {Auth: &nodeconfig.Auth{Auth: "bm9kZTpwYXNz"}}, // node:pass
			"token.example":  {Auth: &nodeconfig.Auth{IdentityToken: "tok"}},
		}},
	}
	cases := map[string][2]string{
		"secret.example": {"pod", "secret"},
		"node.example":   {"node", "pass"},
		"token.example":  {"", "tok"},
		"none.example":   {"", ""},
	}
	for host, want := range cases {
		user, secret, err := c.credentials(host)
		if err != nil || user != want[0] || secret != want[1] {
			t.Errorf("%s: %q %q %v; want %q", host, user, secret, err, want)
		}
	}
}

func TestLegacyHostsGoThroughTheMirrorWithItsAuth(t *testing.T) {
	var gotAuth string
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="mirror"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
	}))
	defer mirror.Close()
	mirrorHost := strings.TrimPrefix(mirror.URL, "http://")
	c := &Containerd{CRI: nodeconfig.Config{
		Mirrors:    map[string][]string{"upstream.invalid": {mirror.URL}},
		Registries: map[string]nodeconfig.Registry{mirrorHost: {Auth: &nodeconfig.Auth{Username: "u", Password: "p"}}},
	}}
	_, desc, err := c.resolver(t.Context()).Resolve(t.Context(), "upstream.invalid/team/app:1")
	if err != nil {
		t.Fatalf("resolve through the mirror: %v", err)
	}
	if desc.Digest.Encoded() != strings.Repeat("a", 64) || gotAuth != "Basic dTpw" {
		t.Errorf("resolved %s with Authorization %q", desc.Digest, gotAuth)
	}
}
