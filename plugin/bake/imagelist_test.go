package bake

import (
	"regexp"
	"testing"
)

// The list component finds an ECR registry's region where ecrHost does.
func TestListComponentsECRPatternIsEcrHostsAtTheStartOfAReference(t *testing.T) {
	m := regexp.MustCompile(ecrPattern).FindStringSubmatch("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/shop/web@" + digestA)
	if m == nil || m[3] != "us-gov-west-1" {
		t.Fatalf("match %q, want the region as group 3", m)
	}
	if regexp.MustCompile(ecrPattern).MatchString("public.ecr.aws/shop/web@" + digestA) {
		t.Fatal("public ECR matched as a private registry")
	}
}
