package contract

// ImageList is the daemon's input, the YAML document in the DaemonSet's
// ConfigMap under ImageListKey (images: [{ref: …, pin: …}]).
type ImageList struct {
	Images []ListedImage `json:"images"`
}

// ListedImage is one image to warm.
type ListedImage struct {
	Ref string `json:"ref"`
	// Pin (default true) labels the image so kubelet's image GC keeps it.
	Pin *bool `json:"pin,omitempty"`
	// Invalid says why Ref is not a usable reference; such an image is
	// reported Failed while the others are warmed.
	Invalid string `json:"-"`
}

// Pinned reports whether the image is to be pinned.
func (i ListedImage) Pinned() bool { return i.Pin == nil || *i.Pin }
