package imagesize

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"
)

// The limit is containerd's own, where the daemon's pulls meet it.
func TestTheManifestLimitIsContainerds(t *testing.T) {
	if MaxManifestSize != docker.MaxManifestSize {
		t.Fatalf("MaxManifestSize %d, containerd's %d", MaxManifestSize, docker.MaxManifestSize)
	}
}

// A registry answering a manifest larger than containerd would take, with
// or without saying its length, costs a lookup no more than containerd's
// limit: the image fails with the reason, and the rest is never read.
func TestAManifestOverContainerdsLimitIsRefusedUnread(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		var sent atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !strings.Contains(req.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusOK)
				return
			}
			size := 12 * docker.MaxManifestSize
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			if !chunked {
				w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			}
			if req.Method == http.MethodHead {
				return
			}
			_, _ = w.Write([]byte(`{"schemaVersion":2,"manifests":[`))
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for written := int64(0); written < size-64; written += int64(len(chunk)) {
				n, err := w.Write(chunk)
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		r := &Resolver{Timeout: 20 * time.Second}
		img := r.Resolve(t.Context(), strings.TrimPrefix(srv.URL, "http://")+"/apps/huge:1")
		srv.CloseClientConnections()
		srv.Close()
		if img.Err == nil || !strings.Contains(img.Err.Error(), "containerd's limit") {
			t.Errorf("chunked %v: %v", chunked, img.Err)
		}
		if sent.Load() > 4*docker.MaxManifestSize {
			t.Errorf("chunked %v: %d MiB sent before the read stopped", chunked, sent.Load()>>20)
		}
	}
}
