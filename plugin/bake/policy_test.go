package bake

import "testing"

func TestPolicyNamesExactlyTheChosenECRRepositories(t *testing.T) {
	bp := planWith("123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:1", "123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/web:2",
		"210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/erp/legacy:1", "mcr.microsoft.com/windows/servercore:ltsc2022",
		"123456789012.dkr.ecr.us-east-2.amazonaws.com/shop/unused:1")
	bp.Images[4].Chosen = false
	p := PolicyFor(bp)
	want := []string{"arn:aws-cn:ecr:cn-north-1:210987654321:repository/erp/legacy", "arn:aws:ecr:us-east-2:123456789012:repository/shop/web"}
	if p == nil || len(p.Statement) != 2 || len(p.Statement[1].Resource) != 2 || p.Statement[1].Resource[0] != want[0] || p.Statement[1].Resource[1] != want[1] {
		t.Errorf("policy %+v", p)
	}
	if p.Statement[0].Resource[0] != "*" || p.Statement[0].Action[0] != "ecr:GetAuthorizationToken" {
		t.Errorf("token statement %+v", p.Statement[0])
	}
	if PolicyFor(planWith("mcr.microsoft.com/windows/servercore:ltsc2022")) != nil {
		t.Error("a policy for no ECR repository")
	}
}
