// Package contract is what the plugin and the daemon both speak: the states
// an image goes through on a node, the documents the daemon publishes on its
// pod (progress, unpin result) and their annotation keys, the pod template's
// mode label, the image-list format and where things are mounted. It imports
// only the standard library, so either side can use it without pulling in
// the other's dependencies (the plugin must not link the containerd client).
package contract
