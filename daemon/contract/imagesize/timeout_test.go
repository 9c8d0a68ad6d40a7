package imagesize

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A registry that answers the ping and then sends nothing for a manifest
// fails that lookup at the Resolver's Timeout, saying so, instead of
// holding the audit for ever.
func TestResolverBoundsEachLookupByItsTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		select {
		case <-req.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	r := &Resolver{Timeout: 300 * time.Millisecond}
	img := r.Resolve(t.Context(), strings.TrimPrefix(srv.URL, "http://")+"/apps/stalled:1")
	if img.Err == nil || img.Err.Error() != "no answer from the registry within 300ms" {
		t.Errorf("stalled registry: %v", img.Err)
	}
}
