package hostprocess

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
)

// ServiceAccountDir is where kubelet mounts the pod's ServiceAccount token,
// CA and namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// InClusterConfig is client-go's rest.InClusterConfig (k8s.io/client-go
// v0.37.2, rest/config.go), except that it finds the ServiceAccount files
// where a HostProcess container sees them. On hosts without the bind filter
// (Windows Server 2019: no system32\bindfltapi.dll) hcsshim does not mount a
// volume at its path; it links it under the sandbox volume only
// (github.com/Microsoft/hcsshim v0.15.0-rc.4, internal/jobcontainers
// storage.go fileBindingSupported, mounts.go fallbackMountSetup), so the
// well-known path is absent and rest.InClusterConfig fails. Like client-go,
// the token is given as a file, so the rotated token is read again.
func InClusterConfig() (*rest.Config, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, rest.ErrNotInCluster
	}
	dir := ServiceAccountDir
	if _, err := os.Stat(filepath.Join(dir, "token")); err != nil {
		dir = InSandbox(ServiceAccountDir)
	}
	tokenFile := filepath.Join(dir, "token")
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("service account token neither at %s nor under $%s: %w", ServiceAccountDir, SandboxEnv, err)
	}
	cfg := &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		BearerToken:     string(token),
		BearerTokenFile: tokenFile,
	}
	if ca := filepath.Join(dir, "ca.crt"); fileExists(ca) {
		cfg.TLSClientConfig.CAFile = ca
	}
	return cfg, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
