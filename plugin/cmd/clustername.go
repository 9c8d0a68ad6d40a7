package cmd

import (
	"fmt"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// kubeconfigClusterName is the EKS cluster name of the kubeconfig context
// in use: the part after cluster/ of the ARN `aws eks update-kubeconfig`
// names clusters with, the first label of eksctl's NAME.REGION.eksctl.io,
// else the kubeconfig's cluster name as it is.
// context and cluster are --context and --cluster when given.
func kubeconfigClusterName(loader clientcmd.ClientConfig, context, cluster string) (string, error) {
	raw, err := loader.RawConfig()
	if err != nil {
		return "", err
	}
	ctxName := raw.CurrentContext
	if context != "" {
		ctxName = context
	}
	if c := raw.Contexts[ctxName]; c != nil && cluster == "" {
		cluster = c.Cluster
	}
	if cluster == "" {
		return "", fmt.Errorf("no cluster in the kubeconfig context %q: give --cluster-name", ctxName)
	}
	if _, name, ok := strings.Cut(cluster, ":cluster/"); ok && strings.HasPrefix(cluster, "arn:") {
		return name, nil
	}
	if name, _, ok := strings.Cut(cluster, "."); ok && strings.HasSuffix(cluster, ".eksctl.io") {
		return name, nil
	}
	return cluster, nil
}
