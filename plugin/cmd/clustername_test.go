package cmd

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
)

func TestClusterNameComesFromTheKubeconfigsEKSCluster(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- {name: "arn:aws:eks:us-east-2:123456789012:cluster/prod-east", cluster: {server: "https://a.example"}}
- {name: prod-west.us-west-2.eksctl.io, cluster: {server: "https://b.example"}}
- {name: kind-dev, cluster: {server: "https://c.example"}}
users: [{name: u, user: {token: t}}]
contexts:
- {name: arn, context: {cluster: "arn:aws:eks:us-east-2:123456789012:cluster/prod-east", user: u}}
- {name: eksctl, context: {cluster: prod-west.us-west-2.eksctl.io, user: u}}
- {name: kind, context: {cluster: kind-dev, user: u}}
current-context: arn
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ context, cluster, want string }{
		{"", "", "prod-east"},
		{"eksctl", "", "prod-west"},
		{"kind", "", "kind-dev"},
		{"kind", "arn:aws:eks:eu-west-1:123456789012:cluster/other", "other"},
	} {
		flags := genericclioptions.NewConfigFlags(false)
		flags.KubeConfig = &kubeconfig
		got, err := kubeconfigClusterName(flags.ToRawKubeConfigLoader(), tc.context, tc.cluster)
		if err != nil || got != tc.want {
			t.Errorf("context %q cluster %q: %q, %v; want %q", tc.context, tc.cluster, got, err, tc.want)
		}
	}
}
