package audit

import (
	"context"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagesize"
	"github.com/winimage-io/kubectl-winimage/plugin/finding"
	"github.com/winimage-io/kubectl-winimage/plugin/inventory"
	"github.com/winimage-io/kubectl-winimage/plugin/skew"
)

// Finding codes raised by the image checks.
const (
	ImageOSIncompatible = "IMAGE_OS_INCOMPATIBLE"
	ImageLookupFailed   = "IMAGE_LOOKUP_FAILED"
)

// Options configure Run.
type Options struct {
	Client kubernetes.Interface
	// NodeSelector picks the audited nodes (kubernetes.io/os=windows).
	NodeSelector string
	// Namespace limits pods and events; "" is all namespaces.
	Namespace string
	Sections  map[string]bool
	// Resolver looks images up; nil skips the registry (--no-registry).
	Resolver *imagesize.Resolver
	// Progress gets a line per phase; nil for none.
	Progress io.Writer
	// PageSize for list calls.
	PageSize int64
	// AWS, when set, enriches nodes and AMIs from EC2 and SSM; AWSError is
	// why it could not be set up (reported as a finding).
	AWS      AMILookup
	AWSError error
	// KubeletConfig reads each group's kubelet configuration (/configz
	// through the API server, needs nodes/proxy).
	KubeletConfig bool
	// Since bounds the startup history (nodes created, pods scheduled).
	Since time.Duration
	// WarmNamespace holds warm's image-list ConfigMap; BakedAMIs are AMIs
	// a bake produced (--baked-ami), besides those AWS finds by tag.
	WarmNamespace string
	BakedAMIs     []string
}

func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// Run collects everything and builds the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	r := &Report{TypeMeta: metav1.TypeMeta{APIVersion: APIVersion, Kind: Kind}, NodeSelector: o.NodeSelector, Namespace: o.Namespace, Findings: []finding.Finding{}}
	if o.PageSize == 0 {
		o.PageSize = 500
	}
	sv, err := o.Client.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("get server version: %w", err)
	}
	r.ServerVersion = sv.GitVersion

	// Lookups started while listing stop when the audit ends early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &collection{}
	if err := c.listNodes(ctx, o, r); err != nil {
		return nil, err
	}
	nodeFindings(ctx, o, r)
	wantImages := o.Sections[SectionImages] || o.Sections[SectionFindings]
	if wantImages {
		if c.ahead, err = startRegistry(ctx, &o, r); err != nil {
			return nil, err
		}
	}
	if wantImages || o.Sections[SectionStartup] {
		if err := c.listPods(ctx, o); err != nil {
			return nil, err
		}
	}
	if o.Sections[SectionPulls] || o.Sections[SectionStartup] {
		if err := c.readPulledEvents(ctx, o, r); err != nil {
			return nil, err
		}
	}
	if wantImages {
		if err := c.ahead.finish(c.imageSecrets, r); err != nil {
			return nil, err
		}
		imageReports(ctx, o, r, c)
	}
	if o.Sections[SectionStartup] {
		startupSection(ctx, o, r, c)
	}
	if o.KubeletConfig {
		o.progress("reading kubelet configurations…")
		readKubeletConfigs(ctx, o, r)
		r.Findings = append(r.Findings, kubeletConfigFindings(r, imagesOn(c))...)
	}
	summarize(r)
	return r, nil
}

// nodeFindings enriches nodes from AWS and checks skew.
func nodeFindings(ctx context.Context, o Options, r *Report) {
	if o.AWSError != nil {
		r.Findings = append(r.Findings, awsFailed(o.AWSError))
		markAMILookupFailed(r.Nodes)
	} else if o.AWS != nil {
		o.progress("looking up AMIs in EC2 and SSM…")
		r.Findings = append(r.Findings, enrichFromAWS(ctx, o.AWS, r.Nodes, &r.bakedAMIs)...)
	}
	r.Groups = inventory.GroupNodes(r.Nodes)
	r.Findings = append(r.Findings, skew.Check(r.ServerVersion, r.Nodes)...)
}

func summarize(r *Report) {
	finding.Sort(r.Findings)
	r.Summary = Summary{Nodes: len(r.Nodes), Images: len(r.Images)}
	for _, f := range r.Findings {
		switch f.Severity {
		case finding.Error:
			r.Summary.Errors++
		case finding.Warning:
			r.Summary.Warnings++
		case finding.Info:
			r.Summary.Infos++
		}
	}
}
