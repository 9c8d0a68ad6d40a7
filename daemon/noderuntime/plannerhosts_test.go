package noderuntime

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/daemon/nodeconfig"
	"github.com/winimage-io/kubectl-winimage/test/wine"
)

// The node reaches registry.invalid only through the hosts its
// hosts.toml names: a mirror that lacks the image (404), then one that
// has it. The planner must find the image where the pull will.
func TestPlannerAsksTheHostsThePullUses(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	record := func(name string, h http.Handler) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, name+" "+r.Method+" "+r.URL.RequestURI())
			mu.Unlock()
			h.ServeHTTP(w, r)
		}))
	}
	quiet := registry.Logger(log.New(io.Discard, "", 0))
	empty := record("empty", registry.New(quiet))
	defer empty.Close()
	full := record("full", registry.New(quiet))
	defer full.Close()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.ParseReference(strings.TrimPrefix(full.URL, "http://") + "/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	dir := wine.TempDir(t)
	hostsTOML := fmt.Sprintf("server = \"https://registry.invalid\"\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", empty.URL, full.URL)
	if err := os.MkdirAll(filepath.Join(dir, "registry.invalid"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "registry.invalid", "hosts.toml"), []byte(hostsTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Containerd{CRI: nodeconfig.Config{HostsDirs: []string{dir}}}
	r := &imagesize.Resolver{Transport: c.PlannerTransport(t.Context(), http.DefaultTransport)}
	got, err := r.Head(t.Context(), "registry.invalid/team/app:1")
	if err != nil || got != want.String() {
		t.Fatalf("Head through the node's hosts: %s, %v; want %s\nrequests: %q", got, err, want, seen)
	}
	resolved := r.Resolve(t.Context(), "registry.invalid/team/app:1")
	if resolved.Err != nil || resolved.Digest != want.String() {
		t.Fatalf("Resolve through the node's hosts: %+v\nrequests: %q", resolved, seen)
	}
	var nsOnFull bool
	for _, s := range seen {
		nsOnFull = nsOnFull || (strings.HasPrefix(s, "full ") && strings.Contains(s, "ns=registry.invalid"))
	}
	if !nsOnFull {
		t.Errorf("no request to the mirror named the upstream with ns= as containerd does: %q", seen)
	}
}

func TestPlannerKeychainIsThePullsCredentials(t *testing.T) {
	c := &Containerd{CRI: nodeconfig.Config{Registries: map[string]nodeconfig.Registry{
		"private.example": {Auth: &nodeconfig.Auth{Username: "u", Password: "p"}},
	}}}
	auth, err := c.PlannerKeychain().Resolve(name.MustParseReference("private.example/a:1").Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.Authorization()
	if err != nil || cfg.Username != "u" || cfg.Password != "p" {
		t.Errorf("planner credentials for private.example: %+v, %v", cfg, err)
	}
}
