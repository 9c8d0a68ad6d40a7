package cmd

import (
	"fmt"
	"strings"

	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// kubeconfigClusterName is the EKS cluster name of the kubeconfig context
// in use: the part after cluster/ of the ARN `aws eks update-kubeconfig`
// names clusters with, the first label of eksctl's NAME.REGION.eksctl.io,
// else the kubeconfig's cluster name as it is.
func kubeconfigClusterName(flags *genericclioptions.ConfigFlags) (string, error) {
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return "", err
	}
	ctxName := raw.CurrentContext
	if flags.Context != nil && *flags.Context != "" {
		ctxName = *flags.Context
	}
	cluster := ""
	if c := raw.Contexts[ctxName]; c != nil {
		cluster = c.Cluster
	}
	if flags.ClusterName != nil && *flags.ClusterName != "" {
		cluster = *flags.ClusterName
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
