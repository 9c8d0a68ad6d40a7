//go:build linux

package rig

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// Fault is how the registry misanswers GETs of one path, as a broken
// registry, CDN or proxy does.
type Fault struct {
	// Corrupt serves the bytes with one flipped: a blob or manifest that
	// does not match its digest, at the right length.
	Corrupt bool
	// Truncate serves the first half under the full Content-Length, then
	// drops the connection.
	Truncate bool
	// Replace serves these bytes instead, in full: for a manifest path by
	// digest, a manifest whose digest is not the one asked for.
	Replace []byte
	// Stall accepts the request and sends nothing, not even headers, until
	// the client gives up.
	Stall bool
	// Trickle sends the headers, then one byte each Trickle.
	Trickle time.Duration
}

// InjectFault makes every GET of path (/v2/REPO/blobs/DIGEST or
// /v2/REPO/manifests/REFERENCE) answer with f; ClearFault undoes it.
func (r *Registry) InjectFault(path string, f Fault) { r.faults.Store(path, f) }

// ClearFault serves path correctly again.
func (r *Registry) ClearFault(path string) { r.faults.Delete(path) }

func (r *Registry) serveFault(w http.ResponseWriter, req *http.Request, f Fault) {
	if f.Stall {
		<-req.Context().Done()
		return
	}
	good := httptest.NewRecorder()
	r.handler.ServeHTTP(good, req)
	body := append([]byte(nil), good.Body.Bytes()...)
	for k, v := range good.Header() {
		w.Header()[k] = v
	}
	switch {
	case f.Replace != nil:
		body = f.Replace
	case f.Corrupt && len(body) > 0:
		body[len(body)/2] ^= 0xff
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(good.Code)
	if f.Trickle > 0 {
		trickle(w, req, body, f.Trickle)
		return
	}
	if f.Truncate {
		_, _ = w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		// net/http closes the connection without finishing the body.
		panic(http.ErrAbortHandler)
	}
	_, _ = w.Write(body)
}

func trickle(w http.ResponseWriter, req *http.Request, body []byte, every time.Duration) {
	fl, _ := w.(http.Flusher)
	for i := range body {
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-req.Context().Done():
			return
		case <-time.After(every):
		}
	}
}
