package audit

import (
	"context"
	"errors"
	"testing"

	"github.com/winimage-io/kubectl-winimage/plugin/awsami"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
)

type fakeAMIs struct {
	instances   map[string]string
	images      map[string]awsami.Image
	latest      map[string]string
	instanceErr error
	latestCalls int
}

func (f *fakeAMIs) InstanceAMIs(_ context.Context, ids []string) (map[string]string, error) {
	return f.instances, f.instanceErr
}
func (f *fakeAMIs) Images(_ context.Context, ids []string) (map[string]awsami.Image, error) {
	return f.images, nil
}
func (f *fakeAMIs) Latest(_ context.Context, fam awsami.Family) (string, error) {
	f.latestCalls++
	return f.latest[fam.Parameter()], nil
}

func TestEnrichFromAWS(t *testing.T) {
	eks := awsami.Family{Release: "2019", Edition: "Full", Kubernetes: "1.35"}
	fake := &fakeAMIs{
		instances: map[string]string{"i-k": "ami-k"},
		images: map[string]awsami.Image{
			"ami-a": {Name: "Windows_Server-2019-English-Full-EKS_Optimized-1.35-2026.01.01", Public: true, OwnerAlias: "amazon"},
			"ami-b": {Name: "Windows_Server-2019-English-Full-EKS_Optimized-1.35-2026.02.01", Public: true, OwnerAlias: "amazon"},
			"ami-k": {Name: "Windows_Server-2019-English-Full-EKS_Optimized-1.35-2025.06.01", Public: false, OwnerAlias: "amazon"},
			"ami-w": {Name: "winimage-demo-20348", Plan: "sha256:1234"},
		},
		latest: map[string]string{eks.Parameter(): "ami-b"},
	}
	nodes := []inventory.Node{
		{Name: "a1", AMI: "ami-a"}, {Name: "a2", AMI: "ami-a"}, {Name: "b", AMI: "ami-b"},
		{Name: "k", InstanceID: "i-k"}, {Name: "w", AMI: "ami-w"},
	}
	got := map[string][]string{}
	var baked []string
	for _, f := range enrichFromAWS(t.Context(), fake, nodes, &baked) {
		got[f.Code] = f.Nodes
	}
	if len(got[AMINotLatest]) != 2 || len(got[AMINotPublic]) != 1 || got[AMINotPublic][0] != "k" || len(got[AMICustom]) != 1 || len(got) != 3 {
		t.Fatalf("findings = %v", got)
	}
	if len(baked) != 1 || baked[0] != "ami-w" {
		t.Fatalf("baked AMIs = %v, want the one with the plan tag", baked)
	}
	if nodes[3].AMI != "ami-k" || nodes[3].AMISource != inventory.AMIFromEC2 {
		t.Fatalf("node k = %+v", nodes[3])
	}
	if fake.latestCalls != 1 {
		t.Fatalf("SSM read %d times for one family", fake.latestCalls)
	}
}

func TestEnrichFromAWSReportsInstanceLookupFailure(t *testing.T) {
	fake := &fakeAMIs{instanceErr: errors.New("ec2:DescribeInstances denied"), images: map[string]awsami.Image{}}
	nodes := []inventory.Node{{Name: "k", InstanceID: "i-k"}}
	fs := enrichFromAWS(t.Context(), fake, nodes, new([]string))
	if len(fs) != 1 || fs[0].Code != AWSLookupFailed || nodes[0].AMISource != inventory.AMILookupError {
		t.Fatalf("findings %+v, node %+v", fs, nodes[0])
	}
}
