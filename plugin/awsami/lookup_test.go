package awsami

import (
	"strings"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/awsfake"
)

// isolate points the SDK at the fake endpoint with static credentials and
// nothing from this machine's AWS configuration or instance metadata.
func isolate(t *testing.T, endpoint string, creds bool) {
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "us-east-2")
	if creds {
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	} else {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	}
}

func TestLookupSpeaksEC2AndSSMWireProtocols(t *testing.T) {
	fake := &awsfake.Server{
		Instances:  map[string]string{"i-0aaa": "ami-111", "i-0bbb": "ami-222"},
		Images:     map[string]awsfake.Image{"ami-111": {Name: "Windows_Server-2022-English-Core-EKS_Optimized-1.36-2026.09.10", Public: true, OwnerAlias: "amazon"}},
		Parameters: map[string]string{"/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.36/image_id": "ami-999"},
	}
	fake.Start()
	defer fake.Close()
	isolate(t, fake.URL(), true)
	ctx := t.Context()
	l, err := New(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	amis, err := l.InstanceAMIs(ctx, []string{"i-0aaa", "i-0bbb", "i-gone"})
	if err != nil || amis["i-0aaa"] != "ami-111" || amis["i-0bbb"] != "ami-222" || len(amis) != 2 {
		t.Fatalf("InstanceAMIs = %v, %v", amis, err)
	}
	imgs, err := l.Images(ctx, []string{"ami-111", "ami-222"})
	if err != nil || !imgs["ami-111"].Public || imgs["ami-111"].OwnerAlias != "amazon" || len(imgs) != 1 {
		t.Fatalf("Images = %+v, %v", imgs, err)
	}
	f, _ := FamilyOf(imgs["ami-111"].Name)
	if latest, err := l.Latest(ctx, f); err != nil || latest != "ami-999" {
		t.Fatalf("Latest = %s, %v", latest, err)
	}
	if _, err := l.Latest(ctx, Family{Release: "2019", Edition: "Full", Kubernetes: "1.20"}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing parameter: %v", err)
	}
	fake.Deny = map[string]bool{"DescribeImages": true}
	if _, err := l.Images(ctx, []string{"ami-111"}); err == nil || !strings.Contains(err.Error(), "ec2:DescribeImages denied (UnauthorizedOperation)") {
		t.Fatalf("denied: %v", err)
	}
}

func TestLookupWithoutCredentialsSaysSo(t *testing.T) {
	fake := &awsfake.Server{}
	fake.Start()
	defer fake.Close()
	isolate(t, fake.URL(), false)
	_, err := New(t.Context(), "")
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Fatalf("err = %v, want a no-credentials error", err)
	}
	if len(fake.Calls()) != 0 {
		t.Fatalf("unsigned requests reached the endpoint: %v", fake.Calls())
	}
}
