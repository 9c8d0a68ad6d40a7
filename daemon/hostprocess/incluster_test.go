package hostprocess

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/winimage-io/kubectl-winimage/test/wine"
)

func TestInClusterConfigFindsTheTokenUnderTheSandboxOnServer2019(t *testing.T) {
	if _, err := os.Stat(ServiceAccountDir); err == nil {
		t.Skip("this host has a real service account mount")
	}
	sandbox := wine.TempDir(t)
	t.Setenv(SandboxEnv, sandbox)
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.100.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	dir := filepath.Join(sandbox, filepath.FromSlash(ServiceAccountDir))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "token"), []byte("tok-1"), 0o600)
	os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)

	// client-go's own, which looks only at the well-known path, finds
	// nothing on Server 2019.
	if _, err := rest.InClusterConfig(); err == nil {
		t.Fatal("rest.InClusterConfig found a token; the test does not model Server 2019")
	}
	cfg, err := InClusterConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://10.100.0.1:443" || cfg.BearerToken != "tok-1" ||
		cfg.BearerTokenFile != filepath.Join(dir, "token") || cfg.TLSClientConfig.CAFile != filepath.Join(dir, "ca.crt") {
		t.Fatalf("config: %+v", cfg)
	}
}

func TestInClusterConfigOutsideAClusterSaysSo(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := InClusterConfig(); !errors.Is(err, rest.ErrNotInCluster) {
		t.Fatalf("err = %v", err)
	}
}

func TestInClusterConfigWithoutATokenNamesBothPlaces(t *testing.T) {
	if _, err := os.Stat(ServiceAccountDir); err == nil {
		t.Skip("this host has a real service account mount")
	}
	t.Setenv(SandboxEnv, wine.TempDir(t))
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.100.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	if _, err := InClusterConfig(); err == nil {
		t.Fatal("no token, no error")
	}
}
