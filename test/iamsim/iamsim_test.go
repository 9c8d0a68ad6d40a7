//go:build linux

package iamsim

import "testing"

// The evaluator answers as IAM would on AWS's own policies: Image Builder's
// service-linked role may write SSM parameters under /imagebuilder/ only,
// and enable Fast Launch on a launch template only when Image Builder's
// tag is on it (AWSServiceRoleForImageBuilder v28).
func TestTheEvaluatorReadsAWSsOwnPolicies(t *testing.T) {
	const slr = "arn:aws:iam::123456789012:role/aws-service-role/imagebuilder.amazonaws.com/AWSServiceRoleForImageBuilder"
	lt := "arn:aws:ec2:us-east-2:123456789012:launch-template/lt-0123456789abcdef0"
	cases := []struct {
		req  Request
		want string
	}{
		{Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-2:123456789012:parameter/imagebuilder/x/image_id"}, "Allowed"},
		{Request{Action: "ssm:PutParameter", Resource: "arn:aws:ssm:us-east-2:123456789012:parameter/winimage/x/image_id"}, "ImplicitlyDenied"},
		{Request{Action: "ec2:EnableFastLaunch", Resource: lt}, "ImplicitlyDenied"},
		{Request{Action: "ec2:EnableFastLaunch", Resource: lt, Context: map[string]any{"ec2:ResourceTag/CreatedBy": "EC2 Image Builder"}}, "Allowed"},
	}
	var reqs []Request
	for _, c := range cases {
		c.req.Principal, c.req.AccountID, c.req.ManagedPolicies = slr, "123456789012", []string{"AWSServiceRoleForImageBuilder"}
		reqs = append(reqs, c.req)
	}
	reqs = append(reqs, Request{Principal: slr, AccountID: "123456789012", ManagedPolicies: []string{"NoSuchPolicy"}, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"})
	got := ForTest(t, reqs)
	for i, c := range cases {
		if got[i].Result != c.want {
			t.Errorf("%s on %s: %s %s, want %s", c.req.Action, c.req.Resource, got[i].Result, got[i].Error, c.want)
		}
		if len(got[i].Versions) != 1 || got[i].Versions[0] != "AWSServiceRoleForImageBuilder v28" {
			t.Errorf("evaluated %v", got[i].Versions)
		}
	}
	if last := got[len(got)-1]; last.Result != "error" {
		t.Errorf("an unknown managed policy: %+v", last)
	}
}
