//go:build linux

// Package rig builds and runs the real components of a Kubernetes node fleet
// on this machine: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kwok (simulated kubelets), containerd with its CRI image
// service, and an in-process OCI registry. Tests and `make demo` use it so the
// plugin is exercised against the same parts a user's cluster has.
package rig

import "github.com/winimage-io/kubectl-winimage/test/rigcache"

// CacheEnv overrides where built components are kept.
const CacheEnv = rigcache.Env

// CacheDir is where the built components live (see rigcache.Dir).
func CacheDir() (string, error) { return rigcache.Dir() }

// FillOnce fills the cache folder dir once across processes (see
// rigcache.FillOnce).
func FillOnce(dir, marker string, fill func() error) error {
	return rigcache.FillOnce(dir, marker, fill)
}
