package imagesize

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// go-containerregistry v0.22.1 reads a manifest or index up to 100 MiB
// (pkg/v1/remote/fetcher.go manifestLimit) and then parses it: a registry
// that answers with a ~95 MiB index costs a node's daemon about 0.9 GiB,
// over its 256 Mi limit, on every pass. containerd's resolver refuses
// anything over docker.MaxManifestSize (v2.4.2 core/remotes/docker/
// resolver.go, 4*1048*1048 bytes), so kubelet could never pull such an
// image anyway: lookups take no more than containerd would. The value is
// written out, not imported: the plugin uses this package and must not
// link containerd (test/layout); manifestlimit_test.go holds the two equal.
const MaxManifestSize int64 = 4 * 1048 * 1048

var errManifestTooLarge = fmt.Errorf("the registry's manifest is over %d bytes, containerd's limit (MaxManifestSize): not read", MaxManifestSize)

// manifestLimitTransport refuses a manifest or index response over the
// limit by its Content-Length, and stops reading one without a length
// once it passes the limit.
type manifestLimitTransport struct {
	next http.RoundTripper
}

func (t manifestLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/manifests/") || req.Method != http.MethodGet {
		return resp, err
	}
	if resp.ContentLength > MaxManifestSize {
		resp.Body.Close()
		return nil, errManifestTooLarge
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: MaxManifestSize}
	return resp, nil
}

// limitedBody fails a read that goes past left bytes.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errManifestTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errManifestTooLarge
	}
	return n, err
}
