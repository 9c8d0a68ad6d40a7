package cmd

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
)

// The clients every command builds come from the root's ConfigFlags: with
// no --qps they carry no client-side limiter (client-go's default would be
// 5 QPS, burst 10); with --qps they carry that one.
func TestCommandsBuildClientsWithoutAClientSideLimiterUnlessAsked(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args        []string
		qps         float32
		burst       int
		wantLimiter bool
	}{
		{nil, -1, 0, false},
		{[]string{"--qps", "20"}, 20, 40, true},
		{[]string{"--qps", "20", "--burst", "25"}, 20, 25, true},
	} {
		root, flags := newRoot(genericiooptions.NewTestIOStreamsDiscard(), nil)
		if err := root.PersistentFlags().Parse(append([]string{"--kubeconfig", kubeconfig}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		if err := root.PersistentPreRunE(root, nil); err != nil {
			t.Fatal(err)
		}
		cfg, err := flags.ToRESTConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.QPS != tc.qps || cfg.Burst != tc.burst {
			t.Errorf("%v: QPS %v burst %d, want %v %d", tc.args, cfg.QPS, cfg.Burst, tc.qps, tc.burst)
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := client.CoreV1().RESTClient().GetRateLimiter() != nil; got != tc.wantLimiter {
			t.Errorf("%v: client-side limiter %v, want %v", tc.args, got, tc.wantLimiter)
		}
	}
}

func TestBadLimitsAreRefused(t *testing.T) {
	for _, args := range [][]string{{"--qps", "-1"}, {"--burst", "5"}, {"--qps", "1", "--burst", "-2"}} {
		root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
		if err := root.PersistentFlags().Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := root.PersistentPreRunE(root, nil); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
