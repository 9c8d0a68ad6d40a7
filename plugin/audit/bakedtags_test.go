package audit

import (
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

// A node launched from a baked AMI holds a tag at the digest it had when
// the AMI was built; once the registry's tag has moved, kubelet (under
// IfNotPresent) runs the old copy there. Nodes of other AMIs, references
// by digest and tags that still match say nothing.
func TestAuditSaysWhenABakedTagNoLongerMatchesItsRegistry(t *testing.T) {
	const old, now = "sha256:" + "aa", "sha256:" + "bb"
	nodes := map[string]*inventory.Node{
		"baked-1": {Name: "baked-1", AMI: "ami-baked", TagDigests: map[string]string{"r.example/shop/web:1": old, "r.example/shop/cart:2": now}},
		"baked-2": {Name: "baked-2", AMI: "ami-baked", TagDigests: map[string]string{"docker.io/library/nginx:1.27": old}},
		"stock":   {Name: "stock", AMI: "ami-eks", TagDigests: map[string]string{"r.example/shop/web:1": old}},
	}
	resolved := map[string]*imagesize.Image{
		"r.example/shop/web:1":      {Ref: "r.example/shop/web:1", Digest: now},
		"r.example/shop/cart:2":     {Ref: "r.example/shop/cart:2", Digest: now},
		"nginx:1.27":                {Ref: "nginx:1.27", Digest: now},
		"r.example/shop/api@" + old: {Ref: "r.example/shop/api@" + old, Digest: old},
	}
	got := movedBakedTags(nodes, map[string]bool{"ami-baked": true}, resolved)
	if len(got) != 2 {
		t.Fatalf("findings %+v, want web on baked-1 and nginx on baked-2", got)
	}
	for _, f := range got {
		if f.Code != BakedTagMoved || f.Severity != finding.Warning || len(f.Nodes) != 1 || !strings.Contains(f.Fix, "start-image-pipeline-execution") {
			t.Errorf("finding %+v", f)
		}
	}
	if got[0].Images[0] != "nginx:1.27" || got[0].Nodes[0] != "baked-2" || !strings.Contains(got[0].Message, old) || !strings.Contains(got[0].Message, now) {
		t.Errorf("nginx: %+v", got[0])
	}
	if got[1].Images[0] != "r.example/shop/web:1" || got[1].Nodes[0] != "baked-1" || !strings.Contains(got[1].Message, "ami-baked") {
		t.Errorf("web: %+v", got[1])
	}
	if none := movedBakedTags(nodes, map[string]bool{}, resolved); len(none) != 0 {
		t.Errorf("no baked AMI, yet %+v", none)
	}
}
