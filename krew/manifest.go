package krew

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"text/template"
)

//go:embed winimage.yaml.tmpl
var manifestTemplate string

// Platform is one archive in the manifest.
type Platform struct {
	OS, Arch, URI, SHA256, Bin string
}

// Manifest holds what varies between releases.
type Manifest struct {
	Version   string
	Homepage  string
	Platforms []Platform
}

// krew wants semantic versions with a v.
var (
	semver    = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	goName    = regexp.MustCompile(`^[a-z0-9]+$`)
)

// Render writes the krew plugin manifest. Values are checked, and quoted
// as JSON strings (valid YAML scalars), never pasted raw.
func Render(m Manifest) ([]byte, error) {
	if !semver.MatchString(m.Version) {
		return nil, fmt.Errorf("version %q is not a semantic version (vX.Y.Z) as krew requires", m.Version)
	}
	if len(m.Platforms) == 0 {
		return nil, fmt.Errorf("no platforms")
	}
	for _, p := range m.Platforms {
		if !goName.MatchString(p.OS) || !goName.MatchString(p.Arch) || !hexSHA256.MatchString(p.SHA256) || p.URI == "" || p.Bin == "" {
			return nil, fmt.Errorf("platform %+v: os, arch, uri, sha256 and bin are required", p)
		}
	}
	t, err := template.New("winimage.yaml").Option("missingkey=error").Funcs(template.FuncMap{
		"quote": func(s string) (string, error) {
			b, err := json.Marshal(s)
			return string(b), err
		},
	}).Parse(manifestTemplate)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
