package audit

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/test/eventually"
	"github.com/winimage-io/kubectl-winimage/test/imagefixtures"
)

// authRegistry, once pushed to, serves /private/ only with u:p and counts
// tag lookups.
type authRegistry struct {
	h      http.Handler
	pushed atomic.Bool
	tags   atomic.Int64
}

func (a *authRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.pushed.Load() {
		a.h.ServeHTTP(w, r)
		return
	}
	if strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.URL.Path, "/manifests/sha256:") {
		a.tags.Add(1)
	}
	if strings.Contains(r.URL.Path, "/private/") && r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("u:p")) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return
	}
	a.h.ServeHTTP(w, r)
}

func windowsNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/os": "windows"}},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{OperatingSystem: "windows", Architecture: "amd64",
			KernelVersion: "10.0.20348.2582", ContainerRuntimeVersion: "containerd://2.1.4"}},
	}
}

func podOn(node, name, image string, secrets ...string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: image}}}}
	for _, s := range secrets {
		p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	return p
}

// pagedPods answers pod lists a page at a time; before the second page it
// waits (up to 10 s) for ready, and records whether it came.
func pagedPods(client *fake.Clientset, pages [][]corev1.Pod, ready func() bool, overlapped *atomic.Bool) {
	client.PrependReactor("list", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		cont := action.(k8stesting.ListActionImpl).ListOptions.Continue
		page := 0
		if cont != "" {
			fmt.Sscan(cont, &page)
			overlapped.Store(eventually.Within(10*time.Second, ready))
		}
		list := &corev1.PodList{Items: pages[page]}
		if page+1 < len(pages) {
			list.Continue = fmt.Sprint(page + 1)
		}
		return true, list, nil
	})
}

func pushWindowsImages(t *testing.T, host string, refs ...string) {
	t.Helper()
	spec := imagefixtures.Spec{}
	for _, ref := range refs {
		spec.Images = append(spec.Images, imagefixtures.Image{Ref: ref, Layers: []resource.Quantity{resource.MustParse("1Ki")}, Windows: []string{"10.0.20348.1"}})
	}
	if _, err := imagefixtures.Push(t.Context(), host, spec); err != nil {
		t.Fatal(err)
	}
}

// startAuthRegistry serves the images refs (repository:tag) and then
// counts lookups and guards /private/.
func startAuthRegistry(t *testing.T, refs ...string) (*authRegistry, string) {
	reg := &authRegistry{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	pushWindowsImages(t, host, refs...)
	reg.pushed.Store(true)
	return reg, host
}

// auditTwoPages audits client's node with its pods answered in two pages,
// the second only once a lookup reached reg; overlapped says it did.
func auditTwoPages(t *testing.T, client *fake.Clientset, reg *authRegistry, first, second corev1.Pod) (r *Report, overlapped bool) {
	var ok atomic.Bool
	pagedPods(client, [][]corev1.Pod{{first}, {second}}, func() bool { return reg.tags.Load() >= 1 }, &ok)
	r, err := Run(t.Context(), Options{Client: client, NodeSelector: "kubernetes.io/os=windows",
		Sections: map[string]bool{SectionImages: true}, Resolver: &imagesize.Resolver{}, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r, ok.Load()
}

// The lookup of an image on the first page of pods is under way before the
// second page is asked for.
func TestRegistryLookupsOverlapThePodList(t *testing.T) {
	reg, host := startAuthRegistry(t, "apps/one:1", "apps/two:1")
	r, overlapped := auditTwoPages(t, fake.NewSimpleClientset(windowsNode("n1")), reg,
		podOn("n1", "a", host+"/apps/one:1"), podOn("n1", "b", host+"/apps/two:1"))
	if !overlapped {
		t.Error("no registry lookup started before the second page of pods was asked for")
	}
	if len(r.Images) != 2 || r.Images[0].Error != "" || r.Images[1].Error != "" || len(r.Images[0].Platforms) != 1 {
		t.Fatalf("images = %+v", r.Images)
	}
	if got := reg.tags.Load(); got != 2 {
		t.Errorf("%d tag lookups, want 2 (each image once)", got)
	}
}

// An image's first pod has no pull secret, a later one has: the lookup that
// failed without it is asked again with it once every pod is listed.
func TestLookupThatFailedBeforeItsPullSecretWasSeenIsAskedAgain(t *testing.T) {
	reg, host := startAuthRegistry(t, "private/app:1")
	ref := host + "/private/app:1"

	dockerConfig := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte("u:p")))
	client := fake.NewSimpleClientset(windowsNode("n1"), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "cred"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockerConfig)},
	})
	r, overlapped := auditTwoPages(t, client, reg, podOn("n1", "a", ref), podOn("n1", "b", ref, "cred"))
	if !overlapped {
		t.Fatal("the early lookup never ran: this test would not show the retry")
	}
	if len(r.Images) != 1 || r.Images[0].Error != "" || len(r.Images[0].Platforms) != 1 {
		t.Fatalf("images = %+v; want the image resolved with the second pod's secret", r.Images)
	}
}
