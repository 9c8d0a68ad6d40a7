package bake

import "testing"

func TestParseECR(t *testing.T) {
	cases := map[string]ECRRegistry{
		"123456789012.dkr.ecr.us-east-2.amazonaws.com":          {Account: "123456789012", Region: "us-east-2", Partition: "aws"},
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com": {Account: "123456789012", Region: "us-gov-west-1", Partition: "aws-us-gov"},
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn":      {Account: "123456789012", Region: "cn-north-1", Partition: "aws-cn"},
	}
	for host, want := range cases {
		got, ok := parseECR(host)
		want.Host = host
		if !ok || got != want {
			t.Errorf("%s: %+v %v", host, got, ok)
		}
	}
	for _, host := range []string{"public.ecr.aws", "mcr.microsoft.com", "12345.dkr.ecr.us-east-2.amazonaws.com", "123456789012.dkr.ecr.us-east-2.amazonaws.com.evil.example"} {
		if _, ok := parseECR(host); ok {
			t.Errorf("%s taken for a private ECR registry", host)
		}
	}
	r, _ := parseECR("123456789012.dkr.ecr.us-east-2.amazonaws.com")
	if arn := r.repositoryARN("shop/web"); arn != "arn:aws:ecr:us-east-2:123456789012:repository/shop/web" {
		t.Error(arn)
	}
}
