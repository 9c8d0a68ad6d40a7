package awsami

import "testing"

func TestFamilyOfParsesEKSWindowsAMINames(t *testing.T) {
	f, ok := FamilyOf("Windows_Server-2022-English-Core-EKS_Optimized-1.27-2023.06.06")
	if !ok || f.Release != "2022" || f.Edition != "Core" || f.Kubernetes != "1.27" {
		t.Fatalf("FamilyOf = %+v, %v", f, ok)
	}
	if got := f.Parameter(); got != "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.27/image_id" {
		t.Fatalf("Parameter = %s", got)
	}
	for _, custom := range []string{"my-golden-windows-2024-05", "Windows_Server-2022-English-Full-Base-2024.05.15", "amazon-eks-node-1.30-v2024"} {
		if _, ok := FamilyOf(custom); ok {
			t.Errorf("%s parsed as an EKS-optimized AMI", custom)
		}
	}
}
