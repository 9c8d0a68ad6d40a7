// Package manifests holds the warming DaemonSet and its RBAC as a kustomize
// base (Windows HostProcess) and a Linux overlay, embedded in the plugin.
package manifests

import "embed"

// FS has base/ and overlays/linux/, as in this folder.
//
//go:embed base/*.yaml overlays/linux/*.yaml
var FS embed.FS
