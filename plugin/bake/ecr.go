package bake

import (
	"fmt"
	"regexp"
	"strings"
)

// ecrHost matches a private ECR registry host:
// ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn].
var ecrHost = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// ECRRegistry is a private ECR registry the images come from.
type ECRRegistry struct {
	Host      string `json:"host"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	Partition string `json:"partition"`
}

// parseECR reports whether host is a private ECR registry, and which.
func parseECR(host string) (ECRRegistry, bool) {
	m := ecrHost.FindStringSubmatch(host)
	if m == nil {
		return ECRRegistry{}, false
	}
	partition := "aws"
	switch {
	case m[4] != "":
		partition = "aws-cn"
	case strings.HasPrefix(m[3], "us-gov-"):
		partition = "aws-us-gov"
	}
	return ECRRegistry{Host: host, Account: m[1], Region: m[3], Partition: partition}, true
}

// repositoryARN is the ARN of repo in registry r.
func (r ECRRegistry) repositoryARN(repo string) string {
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", r.Partition, r.Region, r.Account, repo)
}
