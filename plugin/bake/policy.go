package bake

import (
	"slices"

	"github.com/distribution/reference"
)

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// PolicyFor is what the Image Builder instance role needs to pull the
// chosen images from private ECR: a token (which IAM cannot scope to a
// repository) and reads of exactly the repositories used. Nil when no
// chosen image is in private ECR.
func PolicyFor(bp *BuildPlan) *Policy {
	var arns []string
	for _, c := range bp.Chosen() {
		t, err := targetOf(c.Ref, c.Digest)
		if err != nil || t.ecr == nil {
			continue
		}
		named, _ := reference.ParseDockerRef(c.Ref)
		arn := t.ecr.repositoryARN(reference.Path(named))
		if !slices.Contains(arns, arn) {
			arns = append(arns, arn)
		}
	}
	return ECRReadPolicy(arns)
}

// ECRReadPolicy lets an instance role pull from the repositories arns: a
// token (which IAM cannot scope) and the reads. Nil for no repository.
func ECRReadPolicy(arns []string) *Policy {
	if len(arns) == 0 {
		return nil
	}
	slices.Sort(arns)
	return &Policy{Version: "2012-10-17", Statement: []Statement{
		{Sid: "EcrToken", Effect: "Allow", Action: []string{"ecr:GetAuthorizationToken"}, Resource: []string{"*"}},
		{Sid: "PullBakedImages", Effect: "Allow", Action: []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}, Resource: arns},
	}}
}
