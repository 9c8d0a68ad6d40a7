//go:build linux

package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/plugin/audit"
	"github.com/winimage-io/kubectl-winimage/plugin/awsami"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/skew"
	"github.com/winimage-io/kubectl-winimage/plugin/startup"
	"github.com/winimage-io/kubectl-winimage/test/awsfake"
)

const awsFleet = `
apiVersion: fleet.winimage.io/v1
kind: Fleet
nodeGroups:
- {name: ng-old, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0old, kubelet: v1.36.1-eks-1a2b3c4}
- {name: ng-new, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0new, kubelet: v1.36.1-eks-1a2b3c4}
- {name: ng-gold, kind: managed, count: 1, windowsVersion: 10.0.20348.2582, ami: ami-0gold, kubelet: v1.36.1-eks-1a2b3c4}
- {name: pool, kind: karpenter, count: 2, windowsVersion: 10.0.20348.2582, kubelet: v1.36.1-eks-1a2b3c4}
`

// awsEnv isolates the plugin's AWS SDK from this machine: the fake
// endpoint, no shared config, no instance metadata.
func awsEnv(t *testing.T, endpoint string, creds bool) []string {
	env := []string{
		"AWS_ENDPOINT_URL=" + endpoint, "AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + t.TempDir() + "/none", "AWS_SHARED_CREDENTIALS_FILE=" + t.TempDir() + "/none",
	}
	if creds {
		return append(env, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret")
	}
	return append(env, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=")
}

func TestAuditAWSLookups(t *testing.T) {
	r, applied := startRig(t, awsFleet)
	ctx := context.Background()
	fake := &awsfake.Server{
		Instances: map[string]string{},
		Images: map[string]awsfake.Image{
			"ami-0old": {Name: "Windows_Server-2022-English-Core-EKS_Optimized-1.36-2026.08.12", Public: true, OwnerAlias: "amazon"},
			"ami-0new": {Name: "Windows_Server-2022-English-Core-EKS_Optimized-1.36-2026.11.11", Public: true, OwnerAlias: "amazon"},
			// An AMI a bake produced: its Image Builder distribution tags it.
			"ami-0gold": {Name: "acme-windows-2022-golden-2026.11", Public: false, Tags: map[string]string{awsami.PlanDigestTag: "sha256:0123abcd"}},
		},
		Parameters: map[string]string{"/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.36/image_id": "ami-0new"},
	}
	// The Karpenter nodes have no AMI label: EC2 knows their AMI, which is
	// no longer public.
	for _, n := range applied.Nodes["pool"] {
		node, err := r.Client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fake.Instances[inventory.InstanceID(node.Spec.ProviderID)] = "ami-0retired"
	}
	fake.Start()
	defer fake.Close()

	report := auditJSONEnv(t, awsEnv(t, fake.URL(), true), r.Kubeconfig, "--aws", "--region", "us-east-2", "--sections", "nodes,findings,startup")
	got := findingsByCode(report)
	// The startup section splits on the AMI EC2 says a bake produced.
	if s := report.Startup; s == nil || len(s.BakedAMIs) != 1 || s.BakedAMIs[0] != "ami-0gold" {
		t.Errorf("baked AMIs from the plan tag: %+v", report.Startup)
	} else {
		periods := map[string]string{}
		for _, row := range s.Rows {
			if row.Period != startup.PeriodAll {
				periods[row.Group] = row.Period
			}
		}
		if periods["ng-gold"] != startup.PeriodBakedAMI || periods["ng-new"] != startup.PeriodOtherAMI {
			t.Errorf("periods by group: %v", periods)
		}
	}
	one := func(code string) finding.Finding {
		t.Helper()
		if len(got[code]) != 1 {
			t.Fatalf("%s findings = %+v, want 1", code, got[code])
		}
		return got[code][0]
	}
	if f := one(audit.AMINotLatest); f.Severity != finding.Warning || f.Nodes[0] != applied.Nodes["ng-old"][0] || !strings.Contains(f.Message, "ami-0new") || !strings.Contains(f.Message, "EKS_Optimized-1.36/image_id") {
		t.Errorf("AMI_NOT_LATEST = %+v", f)
	}
	if f := one(audit.AMINotPublic); f.Severity != finding.Warning || len(f.Nodes) != 2 || !strings.Contains(f.Message, "ami-0retired") {
		t.Errorf("AMI_NOT_PUBLIC = %+v", f)
	}
	if f := one(audit.AMICustom); f.Nodes[0] != applied.Nodes["ng-gold"][0] {
		t.Errorf("AMI_CUSTOM = %+v", f)
	}
	if len(got[skew.AMIUnknown]) != 0 || len(got[audit.AWSLookupFailed]) != 0 {
		t.Errorf("unexpected findings: %+v %+v", got[skew.AMIUnknown], got[audit.AWSLookupFailed])
	}
	for _, n := range report.Nodes {
		if n.Group == "pool" && (n.AMI != "ami-0retired" || n.AMISource != inventory.AMIFromEC2) {
			t.Errorf("Karpenter node %s: AMI %q from %q, want ami-0retired from ec2", n.Name, n.AMI, n.AMISource)
		}
	}
	// One SSM read for the one EKS family, one DescribeImages, one
	// DescribeInstances.
	if calls := strings.Join(fake.Calls(), ","); calls != "DescribeInstances,DescribeImages,GetParameter" {
		t.Errorf("AWS calls = %s", calls)
	}

	// A missing permission: a clear warning, the audit still runs.
	fake.Deny = map[string]bool{"DescribeImages": true}
	denied := auditJSONEnv(t, awsEnv(t, fake.URL(), true), r.Kubeconfig, "--aws", "--region", "us-east-2", "--sections", "nodes,findings")
	f := findingsByCode(denied)[audit.AWSLookupFailed]
	if len(f) != 1 || !strings.Contains(f[0].Message, "ec2:DescribeImages denied") || len(denied.Nodes) != 5 {
		t.Errorf("denied: %+v", f)
	}

	// No credentials at all.
	none := auditJSONEnv(t, awsEnv(t, fake.URL(), false), r.Kubeconfig, "--aws", "--region", "us-east-2", "--sections", "nodes,findings")
	f = findingsByCode(none)[audit.AWSLookupFailed]
	if len(f) != 1 || !strings.Contains(f[0].Message, "no AWS credentials") {
		t.Errorf("no credentials: %+v", f)
	}
	if got := findingsByCode(none)[skew.AMIUnknown]; len(got) != 1 {
		t.Errorf("without AWS the Karpenter AMIs stay unknown: %+v", got)
	}
	for _, n := range none.Nodes {
		if n.Group == "pool" && n.AMISource != inventory.AMILookupError {
			t.Errorf("node %s AMI source %q, want the lookup error", n.Name, n.AMISource)
		}
	}
}
