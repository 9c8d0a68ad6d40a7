package kubeletapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// A real client against a server that answers as the API server's node
// proxy would: the paths it asks for, and how it reads the answers.
func TestConfigAndSummaryGoThroughTheNodeProxy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/nodes/n1/proxy/configz":
			_, _ = w.Write([]byte(`{"kubeletconfig":{"imagePullCredentialsVerificationPolicy":"AlwaysVerify","serializeImagePulls":false}}`))
		case "/api/v1/nodes/n1/proxy/stats/summary":
			_, _ = w.Write([]byte(`{"node":{"nodeName":"n1","startTime":null,"fs":{"usedBytes":300},"runtime":{"imageFs":{"usedBytes":100}}},"pods":[]}`))
		case "/api/v1/nodes/empty/proxy/configz":
			_, _ = w.Write([]byte(`{}`))
		default:
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`, http.StatusForbidden)
		}
	}))
	defer srv.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cfg, err := Config(ctx, client, "n1")
	if err != nil || cfg.ImagePullCredentialsVerificationPolicy != "AlwaysVerify" || cfg.SerializeImagePulls == nil || *cfg.SerializeImagePulls {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	s, err := Summary(ctx, client, "n1")
	if err != nil || *s.Node.Fs.UsedBytes != 300 || *s.Node.Runtime.ImageFs.UsedBytes != 100 {
		t.Fatalf("summary %+v, %v", s, err)
	}
	if _, err := Config(ctx, client, "empty"); err == nil || !strings.Contains(err.Error(), "no kubeletconfig") {
		t.Errorf("empty /configz: %v", err)
	}
	if _, err := Config(ctx, client, "other"); err == nil || !strings.Contains(err.Error(), "node other: GET /configz") {
		t.Errorf("forbidden: %v", err)
	}
}

// A node that answers without end is read up to the bound and refused: the
// reader stops there, whatever the node keeps sending.
func TestAnAnswerOverTheBoundIsRefusedUnread(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"kubeletconfig":{"x":"`))
		chunk := []byte(strings.Repeat("a", 64<<10))
		for range 1 << 12 { // 256 MiB, if anyone read it all
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Config(t.Context(), client, "n1")
	if err == nil || !strings.Contains(err.Error(), "node n1: /configz is over 3 MiB") {
		t.Fatalf("err = %v", err)
	}
	srv.CloseClientConnections()
	if sent.Load() > 64<<20 {
		t.Errorf("the node sent %d MiB before the read stopped", sent.Load()>>20)
	}
}
