//go:build linux

package rig

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceAccountKubeconfig creates namespace/name (if missing), issues it a
// token through the TokenRequest API and writes a kubeconfig that acts as
// it, so tests run commands under exactly the RBAC they grant it.
func (r *Rig) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	_, err := r.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	_, err = r.Client.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	expiry := int64(3600)
	tr, err := r.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s/%s: %w", namespace, name, err)
	}
	return r.writeTokenKubeconfig(namespace+"-"+name, tr.Status.Token)
}

// PodKubeconfig writes a kubeconfig that acts as pod does: with the token
// kubelet gives it, bound to the pod (so it carries the pod's and its
// node's names, which admission policies may check).
func (r *Rig) PodKubeconfig(ctx context.Context, pod *corev1.Pod) (string, error) {
	token, err := r.podToken(ctx, pod)
	if err != nil {
		return "", err
	}
	return r.writeTokenKubeconfig("pod-"+pod.Namespace+"-"+pod.Name, token)
}

// podToken issues pod's ServiceAccount a token bound to the pod, as kubelet
// does for the projected ServiceAccount volume.
func (r *Rig) podToken(ctx context.Context, pod *corev1.Pod) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	expiry := int64(3600)
	tr, err := r.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expiry,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", sa, err)
	}
	return tr.Status.Token, nil
}

func (r *Rig) writeTokenKubeconfig(name, token string) (string, error) {
	dir := filepath.Join(r.Dir, "kubeconfigs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, writeKubeconfig(path, r.RESTConfig.Host, r.pki.caPEM, name, token)
}
