package krew

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestRenderQuotesValuesAndChecksThem(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	m := Manifest{Version: "v0.1.0", Homepage: "https://github.com/winimage-io/kubectl-winimage", Platforms: []Platform{
		{OS: "linux", Arch: "amd64", URI: "https://example.com/a.tar.gz", SHA256: sum, Bin: "kubectl-winimage"},
		{OS: "windows", Arch: "amd64", URI: "https://example.com/a.zip", SHA256: sum, Bin: "kubectl-winimage.exe"},
	}}
	data, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Metadata struct{ Name string }
		Spec     struct {
			Version   string
			Caveats   string
			Platforms []struct {
				Selector         struct{ MatchLabels map[string]string } `json:"selector"`
				URI, Sha256, Bin string
			}
		}
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if doc.Metadata.Name != "winimage" || doc.Spec.Version != "v0.1.0" || len(doc.Spec.Platforms) != 2 || doc.Spec.Platforms[1].Bin != "kubectl-winimage.exe" ||
		doc.Spec.Platforms[1].Selector.MatchLabels["os"] != "windows" || !strings.Contains(doc.Spec.Caveats, "HostProcess") {
		t.Errorf("%+v", doc)
	}
	for _, bad := range []Manifest{{Version: "0.1", Platforms: m.Platforms}, {Version: "v0.1.0"},
		{Version: "v0.1.0", Platforms: []Platform{{OS: "linux", Arch: "amd64", URI: "u", SHA256: "x", Bin: "b"}}}} {
		if _, err := Render(bad); err == nil {
			t.Errorf("rendered %+v", bad)
		}
	}
}
