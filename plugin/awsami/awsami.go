// Package awsami reads what EC2 and SSM know about the AMIs of EKS Windows
// nodes: the AMI of nodes that carry no AMI label, whether an AMI is still
// public, and the latest EKS-optimized Windows AMI from the SSM public
// parameters.
package awsami

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// Lookup talks to EC2 and SSM with the usual credential chain.
type Lookup struct {
	ec2 *ec2.Client
	ssm *ssm.Client
}

// New loads the default AWS configuration (environment, shared config,
// instance role). The SDK honours AWS_ENDPOINT_URL(_EC2/_SSM) as BaseEndpoint.
func New(ctx context.Context, region string) (*Lookup, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: pass --region or set AWS_REGION")
	}
	// Resolve credentials once here, so their absence is one clear error
	// rather than one per call.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, errors.New("no AWS credentials found (environment, shared config or instance role)")
	}
	return &Lookup{ec2: ec2.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}, nil
}

// InstanceAMIs maps instance ids to their AMI ids (DescribeInstances).
func (l *Lookup) InstanceAMIs(ctx context.Context, instanceIDs []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(instanceIDs); start += 200 {
		batch := instanceIDs[start:min(start+200, len(instanceIDs))]
		// A filter, unlike InstanceIds, does not fail the whole call when one
		// instance is already gone.
		p := ec2.NewDescribeInstancesPaginator(l.ec2, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: batch}},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return out, explain("ec2:DescribeInstances", err)
			}
			for _, r := range page.Reservations {
				for _, i := range r.Instances {
					out[aws.ToString(i.InstanceId)] = aws.ToString(i.ImageId)
				}
			}
		}
	}
	return out, nil
}

// Image is what DescribeImages says about an AMI.
type Image struct {
	ID         string
	Name       string
	Public     bool
	OwnerAlias string
	Deprecated string
	// Plan is the bake plan's digest when a winimage bake produced the AMI
	// (its PlanDigestTag), else "".
	Plan string
}

// PlanDigestTag is the tag bake's Image Builder distribution puts on the
// AMIs it produces; the audit finds baked AMIs by it.
const PlanDigestTag = "winimage.io/plan-digest"

// Images describes AMIs; an AMI missing from the result is no longer
// visible (deregistered, or no longer public).
func (l *Lookup) Images(ctx context.Context, ids []string) (map[string]Image, error) {
	out := map[string]Image{}
	for start := 0; start < len(ids); start += 200 {
		batch := ids[start:min(start+200, len(ids))]
		resp, err := l.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
			Filters:           []ec2types.Filter{{Name: aws.String("image-id"), Values: batch}},
			IncludeDeprecated: aws.Bool(true),
		})
		if err != nil {
			return out, explain("ec2:DescribeImages", err)
		}
		for _, img := range resp.Images {
			out[aws.ToString(img.ImageId)] = Image{
				ID: aws.ToString(img.ImageId), Name: aws.ToString(img.Name), Public: aws.ToBool(img.Public),
				OwnerAlias: aws.ToString(img.ImageOwnerAlias), Deprecated: aws.ToString(img.DeprecationTime),
				Plan: tagValue(img.Tags, PlanDigestTag),
			}
		}
	}
	return out, nil
}

// eksAMIName matches EKS-optimized Windows AMI names:
// Windows_Server-2022-English-Core-EKS_Optimized-1.27-2023.06.06.
var eksAMIName = regexp.MustCompile(`^Windows_Server-(2019|2022|2025)-English-(Core|Full)-EKS_Optimized-(1\.\d+)-`)

// Family is an EKS-optimized Windows AMI line: OS release, edition and
// Kubernetes minor.
type Family struct {
	Release, Edition, Kubernetes string
}

// FamilyOf parses an AMI name; ok is false for custom AMIs.
func FamilyOf(name string) (Family, bool) {
	m := eksAMIName.FindStringSubmatch(name)
	if m == nil {
		return Family{}, false
	}
	return Family{Release: m[1], Edition: m[2], Kubernetes: m[3]}, true
}

// Parameter is the SSM public parameter of the family's latest AMI.
func (f Family) Parameter() string {
	return fmt.Sprintf("/aws/service/ami-windows-latest/Windows_Server-%s-English-%s-EKS_Optimized-%s/image_id", f.Release, f.Edition, f.Kubernetes)
}

// Latest reads the family's latest AMI id from SSM.
func (l *Lookup) Latest(ctx context.Context, f Family) (string, error) {
	resp, err := l.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(f.Parameter())})
	if err != nil {
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return "", fmt.Errorf("SSM parameter %s does not exist (Kubernetes %s may be out of EKS support)", f.Parameter(), f.Kubernetes)
		}
		return "", explain("ssm:GetParameter", err)
	}
	return aws.ToString(resp.Parameter.Value), nil
}

// explain turns SDK errors into the one line a user acts on.
func explain(action string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch code := apiErr.ErrorCode(); {
		case strings.Contains(code, "Unauthorized") || strings.Contains(code, "AccessDenied"):
			return fmt.Errorf("%s denied (%s): grant %s to the audit's AWS identity", action, code, action)
		default:
			return fmt.Errorf("%s: %s: %s", action, code, apiErr.ErrorMessage())
		}
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") || strings.Contains(err.Error(), "get credentials") {
		return fmt.Errorf("%s: no AWS credentials found (environment, shared config or instance role)", action)
	}
	return fmt.Errorf("%s: %w", action, err)
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
