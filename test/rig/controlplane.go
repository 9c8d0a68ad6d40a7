//go:build linux

package rig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultControllers are the kube-controller-manager loops the rig runs:
// enough for Deployments, DaemonSets, service accounts and node lifecycle,
// without cloud or volume controllers that have nothing to act on here.
const DefaultControllers = "daemonset,deployment,replicaset,nodelifecycle,serviceaccount,serviceaccount-token,root-ca-cert-publisher,garbagecollector,namespace,podgc,ttl-after-finished,job"

func (r *Rig) startEtcd(ctx context.Context) error {
	return retryBind(func() error { return r.tryEtcd(ctx) })
}

func (r *Rig) tryEtcd(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	clientPort, peerPort := ports[0], ports[1]
	// A failed earlier attempt may have left a half-made data folder.
	if err := os.RemoveAll(filepath.Join(r.Dir, "etcd")); err != nil {
		return err
	}
	clientURL := "http://" + loopback(clientPort)
	p, err := r.start("etcd", r.bins.Etcd,
		"--data-dir", filepath.Join(r.Dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", "http://"+loopback(peerPort),
		"--initial-advertise-peer-urls", "http://"+loopback(peerPort),
		"--initial-cluster", "default=http://"+loopback(peerPort),
		"--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return err
	}
	r.etcdURL = clientURL
	return waitFor(ctx, p, 30*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, clientURL+"/health")
	})
}

func (r *Rig) startAPIServer(ctx context.Context) error {
	return retryBind(func() error { return r.tryAPIServer(ctx) })
}

func (r *Rig) tryAPIServer(ctx context.Context) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	port := ports[0]
	certs, err := newPKI(filepath.Join(r.Dir, "pki"))
	if err != nil {
		return err
	}
	r.pki = certs
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return err
	}
	r.adminToken = hex.EncodeToString(token)
	tokens := filepath.Join(r.Dir, "pki", "tokens.csv")
	if err := os.WriteFile(tokens, []byte(r.adminToken+",admin,admin,system:masters\n"), 0o600); err != nil {
		return err
	}
	r.apiServerArgs = []string{
		"--etcd-servers", r.etcdURL,
		"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		"--advertise-address", "127.0.0.1", "--endpoint-reconciler-type", "none",
		"--cert-dir", filepath.Join(r.Dir, "pki"),
		"--tls-cert-file", certs.ServingCert, "--tls-private-key-file", certs.ServingKey,
		"--client-ca-file", certs.CACert,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", certs.ServiceAccountPub,
		"--service-account-signing-key-file", certs.ServiceAccountKey,
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--allow-privileged=true",
		// The node proxy reaches the stand-in kubelet endpoints at their
		// InternalIP (see ServeKubeletEndpoints); the Hostname is a name
		// nothing resolves here.
		"--kubelet-preferred-address-types", "InternalIP",
		"--event-ttl", "24h"}
	r.RESTConfig = &rest.Config{
		Host:            "https://" + loopback(port),
		BearerToken:     r.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: certs.caPEM},
		QPS:             200,
		Burst:           400,
	}
	if err := r.launchAPIServer(ctx); err != nil {
		return err
	}
	r.Client, err = kubernetes.NewForConfig(r.RESTConfig)
	if err != nil {
		return err
	}
	r.Kubeconfig = filepath.Join(r.Dir, "kubeconfig")
	return writeKubeconfig(r.Kubeconfig, r.RESTConfig.Host, certs.caPEM, "admin", r.adminToken)
}

// launchAPIServer runs kube-apiserver with the arguments tryAPIServer
// chose and waits until it is ready.
func (r *Rig) launchAPIServer(ctx context.Context) error {
	p, err := r.start("kube-apiserver", r.bins.APIServer, r.apiServerArgs...)
	if err != nil {
		return err
	}
	r.apiServer = p
	transport, err := rest.TransportFor(r.RESTConfig)
	if err != nil {
		return err
	}
	httpClient := &http.Client{Transport: transport, Timeout: 2 * time.Second}
	return waitFor(ctx, p, 90*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, httpClient, r.RESTConfig.Host+"/readyz")
	})
}

// RestartAPIServer stops kube-apiserver (SIGTERM, as a control-plane
// upgrade or a crash-looping host does), keeps it down for down, and starts
// it again on the same address with the same certificates and tokens, so
// every client (the daemons, the plugin's watches, the controllers) sees
// its connections drop and must find its own way back.
func (r *Rig) RestartAPIServer(ctx context.Context, down time.Duration) error {
	r.apiServer.stop(10 * time.Second)
	r.forget(r.apiServer)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	return retryBind(func() error { return r.launchAPIServer(ctx) })
}

// writeKubeconfig writes a single-context kubeconfig for a bearer token.
func writeKubeconfig(path, server string, caPEM []byte, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["rig"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["rig"] = &clientcmdapi.Context{Cluster: "rig", AuthInfo: user}
	cfg.CurrentContext = "rig"
	return clientcmd.WriteToFile(*cfg, path)
}

func (r *Rig) startControllerManager(ctx context.Context) error {
	p, err := r.start("kube-controller-manager", r.bins.ControllerManager,
		"--kubeconfig", r.Kubeconfig,
		"--leader-elect=false", "--secure-port=0",
		"--controllers", r.controllers,
		"--use-service-account-credentials=false",
		"--service-account-private-key-file", r.pki.ServiceAccountKey,
		"--root-ca-file", r.pki.CACert,
		// Simulated nodes that lose their heartbeat go NotReady quickly, so
		// tests of node loss do not wait the default 40 s.
		"--node-monitor-grace-period", "20s")
	if err != nil {
		return err
	}
	// The service account controller creating "default" proves the
	// controller-manager is connected and running its loops.
	return waitFor(ctx, p, 60*time.Second, func(ctx context.Context) error {
		_, err := r.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func (r *Rig) startScheduler(ctx context.Context) error {
	p, err := r.start("kube-scheduler", r.bins.Scheduler,
		"--kubeconfig", r.Kubeconfig, "--leader-elect=false", "--secure-port=0")
	if err != nil {
		return err
	}
	// The scheduler has no health endpoint here (secure port off).
	return p.survives(300 * time.Millisecond)
}

func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
