package bake

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ImageListSource is where a component reads its image list at build time
// (--image-list-uri): an S3 object or an SSM parameter, so the warm list
// can change without a new template.
type ImageListSource struct {
	URI string
	// S3 bucket and key, or the SSM parameter name (with its leading /).
	Bucket, Key, Parameter string
}

var (
	s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$`)
	// No * or ?: the key also goes into the build role's IAM policy, where
	// they are wildcards (s3://bucket/* would grant the whole bucket).
	s3Key        = regexp.MustCompile(`^[A-Za-z0-9!_.'()/\-]+$`)
	ssmParameter = regexp.MustCompile(`^/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$`)
)

// ParseImageListURI reads s3://bucket/key or ssm:/parameter/name. Names
// are held to the characters S3 and SSM recommend, so none can carry
// PowerShell or YAML syntax into the component.
func ParseImageListURI(uri string) (*ImageListSource, error) {
	switch {
	case strings.HasPrefix(uri, "s3://"):
		bucket, key, _ := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
		if !s3Bucket.MatchString(bucket) || !s3Key.MatchString(key) || len(key) > 1024 {
			return nil, fmt.Errorf("--image-list-uri %q: want s3://BUCKET/KEY (bucket 3-63 of a-z 0-9 . -, key of letters, digits and !_.'()/-, no wildcard)", uri)
		}
		return &ImageListSource{URI: uri, Bucket: bucket, Key: key}, nil
	case strings.HasPrefix(uri, "ssm:"):
		name := strings.TrimPrefix(uri, "ssm:")
		if !ssmParameter.MatchString(name) || len(name) > 1011 {
			return nil, fmt.Errorf("--image-list-uri %q: want ssm:/PARAMETER/NAME (letters, digits and _.-/)", uri)
		}
		if !strings.HasPrefix(name, "/") {
			name = "/" + name
		}
		return &ImageListSource{URI: uri, Parameter: name}, nil
	}
	return nil, fmt.Errorf("--image-list-uri %q: give s3://BUCKET/KEY or ssm:/PARAMETER", uri)
}

// ImageList is the list a list-reading component pulls: a line per chosen
// image of every build, "BUILD PINNED [TAG]", what -o image-list prints
// for upload to the --image-list-uri object.
func (p *Plan) ImageList() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# kubectl winimage image list: build pinned-reference [tag]\n")
	n := 0
	for i := range p.Builds {
		for _, c := range p.Builds[i].Chosen() {
			t, err := targetOf(c.Ref, c.Digest)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "%d %s", p.Builds[i].Build, t.pinned)
			if t.tag != "" {
				b.WriteString(" " + t.tag)
			}
			b.WriteByte('\n')
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no image was chosen for any build, so there is no image list to print (see `kubectl winimage bake`)")
	}
	return b.Bytes(), nil
}

// listFile is where the component keeps the list on the build instance.
const listFile = `C:\winimage\image-list.txt`

// Patterns the component holds each list line to before a word of it
// reaches ctr (PowerShell's -cmatch, case-sensitive): references as
// targetOf writes them.
const (
	pinnedPattern = `^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$`
	tagPattern    = `^[a-z0-9][a-z0-9._/:-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`
)

// ecrPattern is ecrHost at the start of a reference (region: $Matches[3]).
var ecrPattern = strings.TrimSuffix(ecrHost.String(), "$") + "/"

// ComponentFromList is the component of one build that reads its images
// from src at build time: fetch the list, pull each of the build's lines
// (log in to ECR when the registry is ECR, pull the tag pods use, or the
// digest when they use one, labelled pinned), then a validate phase that
// finds them all and a test phase on the new AMI. The words are PowerShell variables checked against patterns, never
// code.
func ComponentFromList(bp *BuildPlan, ctr, generator string, src *ImageListSource) (*Component, error) {
	if err := checkPath(ctr); err != nil {
		return nil, err
	}
	build := strconv.Itoa(bp.Build)
	fetch := []string{"$ErrorActionPreference = 'Stop'",
		"New-Item -ItemType Directory -Force -Path " + psQuote(`C:\winimage`) + " | Out-Null"}
	if src.Bucket != "" {
		fetch = append(fetch, "Read-S3Object -BucketName "+psQuote(src.Bucket)+" -Key "+psQuote(src.Key)+" -File "+psQuote(listFile)+" | Out-Null")
	} else {
		fetch = append(fetch, "(Get-SSMParameter -Name "+psQuote(src.Parameter)+").Value | Set-Content -LiteralPath "+psQuote(listFile)+" -Encoding ASCII")
	}
	prelude := []string{"$ErrorActionPreference = 'Stop'", "$ctr = " + psQuote(ctr), "$build = " + psQuote(build),
		"$lines = @(Get-Content -LiteralPath " + psQuote(listFile) + " | Where-Object { $_ -and -not $_.StartsWith('#') })"}
	pull := append(append([]string{}, prelude...),
		"$platform = "+psQuote(PlatformFor(bp.Build)),
		"$pin = "+psQuote(PinLabel),
		"$count = 0",
		"foreach ($line in $lines) {",
		"  $f = @($line -split ' ')",
		"  if ($f[0] -cne $build) { continue }",
		"  $pinned = $f[1]",
		"  $tag = if ($f.Count -gt 2) { $f[2] } else { '' }",
		"  if ($f.Count -gt 3 -or $pinned -cnotmatch "+psQuote(pinnedPattern)+" -or ($tag -and $tag -cnotmatch "+psQuote(tagPattern)+")) { throw ('image list: bad line: ' + $line) }",
		// A tag names the pinned image's own repository, never another
		// (a line must not make evil@sha256:… answer to
		// mcr.microsoft.com/windows/servercore:ltsc2022): the tag pattern
		// leaves no ':' or '/' after the repository's ':'.
		"  if ($tag -and -not $tag.StartsWith($pinned.Substring(0, $pinned.IndexOf('@')) + ':', [System.StringComparison]::Ordinal)) { throw ('image list: a tag of another repository: ' + $line) }",
		"  $auth = @()",
		"  if ($pinned -cmatch "+psQuote(ecrPattern)+") { $auth = @('--user', ('AWS:' + (Get-ECRLoginCommand -Region $Matches[3]).Password)) }",
		// A tag is resolved at build time, as in ComponentFor (pullStep).
		"  $ref = if ($tag) { $tag } else { $pinned }",
		"  & $ctr -n k8s.io images pull --platform $platform --label $pin @auth $ref",
		"  if ($LASTEXITCODE -ne 0) { throw ('ctr images pull failed: ' + $ref) }",
		// The repo@digest record CRI's pull makes beside a tag (digestRecord).
		"  if ($tag) {",
		"    $row = @(& $ctr -n k8s.io images list ('name==' + $tag))",
		"    if ($LASTEXITCODE -ne 0 -or $row.Count -ne 2) { throw ('ctr images list failed: ' + $tag) }",
		`    $digest = ($row[1] -split '\s+')[2]`,
		"    if ($digest -cnotmatch '^sha256:[0-9a-f]{64}$') { throw ('no digest for ' + $tag) }",
		"    $byDigest = $pinned.Substring(0, $pinned.IndexOf('@')) + '@' + $digest",
		"    & $ctr -n k8s.io images tag --force $tag $byDigest",
		"    if ($LASTEXITCODE -ne 0) { throw ('ctr images tag failed: ' + $tag) }",
		"    & $ctr -n k8s.io images label $byDigest $pin",
		"    if ($LASTEXITCODE -ne 0) { throw ('ctr images label failed: ' + $tag) }",
		"  }",
		"  $count++",
		"}",
		"if ($count -eq 0) { throw ('the image list has no image for build ' + $build) }")
	// The name each line's pull leaves: its tag, else its pinned digest.
	wantOfBuild := "@($lines | ForEach-Object { $f = @($_ -split ' '); if ($f[0] -ceq $build) { $f[$f.Count - 1] } })"
	validate := append(append([]string{}, prelude...),
		"$names = & $ctr -n k8s.io images list -q",
		"if ($LASTEXITCODE -ne 0) { throw 'ctr images list failed' }",
		"$want = "+wantOfBuild,
		"$missing = @($want | Where-Object { $names -notcontains $_ })",
		"if ($missing) { throw ('images missing after the build: ' + ($missing -join ', ')) }")
	return &Component{
		Name: fmt.Sprintf("winimage-prepull-%d", bp.Build),
		Description: fmt.Sprintf("Pre-pulls the images %s lists for Windows Server %s (build %d) EKS nodes into containerd's k8s.io namespace, pinned against kubelet image GC. Generated by %s. Needs %s.",
			src.URI, bp.WindowsServer, bp.Build, generator, CtrRequirement),
		Phases: []Phase{
			{Name: "build", Steps: []Step{
				{Name: "FetchImageList", Action: "ExecutePowerShell", Inputs: StepInputs{Commands: fetch}},
				{Name: "PullImages", Action: "ExecutePowerShell", Inputs: StepInputs{Commands: pull}}}},
			{Name: "validate", Steps: []Step{{Name: "ImagesPresent", Action: "ExecutePowerShell", Inputs: StepInputs{Commands: validate}}}},
			// The list file stays on the AMI (sysprep keeps C:\winimage):
			// the test instance checks the same lines.
			testPhase(ctr, prelude, wantOfBuild),
		},
	}, nil
}
