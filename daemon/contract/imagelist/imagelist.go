// Package imagelist reads the daemon's input: the images to warm, from a
// file mounted from the DaemonSet's ConfigMap, and notices when it changes.
package imagelist

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/distribution/reference"
	"sigs.k8s.io/yaml"

	"github.com/winimage-io/kubectl-winimage/daemon/contract"
)

// List is the content of the file (the format is the contract's).
type List = contract.ImageList

// Image is one image to warm.
type Image = contract.ListedImage

// MaxBytes is what a ConfigMap's values may hold in all, corev1.MaxSecretSize
// (k8s.io/kubernetes v1.37.2 pkg/apis/core/validation ValidateConfigMap): a
// larger file did not come from the DaemonSet's ConfigMap and is refused
// unread.
const MaxBytes = 1 << 20

// Parse decodes a list. References are normalized the way the CRI plugin
// normalizes kubelet's (nginx → docker.io/library/nginx:latest), so what is
// warmed is what kubelet will look up; repeats are dropped; an invalid one
// is kept, marked Invalid, so it fails alone. A file that is not a list is
// an error.
func Parse(data []byte) (*List, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("image list: %d bytes, over the %d a ConfigMap holds", len(data), MaxBytes)
	}
	var l List
	if err := yaml.UnmarshalStrict(data, &l); err != nil {
		return nil, fmt.Errorf("image list: %w", err)
	}
	seen := map[string]bool{}
	kept := l.Images[:0]
	for _, img := range l.Images {
		if named, err := reference.ParseDockerRef(img.Ref); err != nil {
			img.Invalid = fmt.Sprintf("%q is not a valid image reference: %v", img.Ref, err)
		} else {
			img.Ref = named.String()
		}
		if seen[img.Ref] {
			continue
		}
		seen[img.Ref] = true
		kept = append(kept, img)
	}
	l.Images = kept
	return &l, nil
}

// Load reads path and returns the list and a hash of its bytes.
func Load(path string) (*List, [32]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, [32]byte{}, err
	}
	l, err := Parse(data)
	return l, sha256.Sum256(data), err
}

// Watch calls onChange with each new valid list at path, checking every
// interval. A ConfigMap volume updates by swapping a symlink, which inotify
// on the file misses; comparing content hashes catches it. On Windows the
// swap is not atomic: a reader can find no file, an empty one, or a prefix
// of the new one, and a prefix is often a valid, shorter list. Acting on it
// would cut the running pass short, drop images from the published
// progress (which `warm --wait` reads as the node's whole list) and restart
// their pulls a moment later. So new content counts only when two checks in
// a row read the same bytes; until then the last settled list stays in
// force. Settled content that cannot be read or parsed goes to onError.
func Watch(ctx context.Context, path string, interval time.Duration, last [32]byte, onChange func(*List), onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	w := &watcher{path: path, applied: last, onChange: onChange, onError: onError}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.check()
		}
	}
}

// watcher is Watch's state between checks.
type watcher struct {
	path     string
	applied  [32]byte  // the content last handed on, good or bad
	previous *[32]byte // what the last check read
	onChange func(*List)
	onError  func(error)
}

// check reads the file once and hands on its content if the previous
// check read the same.
func (w *watcher) check() {
	l, sum, err := Load(w.path)
	previous := w.previous
	w.previous = &sum
	if sum == w.applied || previous == nil || *previous != sum {
		return
	}
	w.applied = sum
	if err != nil {
		w.onError(err)
		return
	}
	w.onChange(l)
}
