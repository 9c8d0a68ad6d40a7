package cmd

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestOutputFormats(t *testing.T) {
	formats := outputFormats{"wide", "json", "yaml"}
	cases := []struct{ got, wantErr string }{
		{"", ""},
		{"json", ""},
		{"name", `--output "name" is not supported by audit: use wide, json or yaml`},
	}
	for _, c := range cases {
		err := formats.validate("audit", c.got)
		if fmt.Sprint(err) != c.wantErr && !(err == nil && c.wantErr == "") {
			t.Errorf("-o %q: %v, want %q", c.got, err, c.wantErr)
		}
	}
}

func TestParseDryRun(t *testing.T) {
	cases := []struct {
		in   string
		want DryRunStrategy
		bad  bool
	}{{"none", DryRunNone, false}, {"client", DryRunClient, false}, {"server", DryRunServer, false}, {"true", DryRunNone, true}}
	for _, c := range cases {
		got, err := parseDryRun(c.in)
		if got != c.want || (err != nil) != c.bad {
			t.Errorf("parseDryRun(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestFlagErrorNamesTheFlag(t *testing.T) {
	flags := map[string]string{"daemonImage": "--daemon-image", "images": "image", "pullSecrets": "--pull-secret"}
	cases := []struct {
		err  error
		want string
	}{
		{field.Invalid(field.NewPath("daemonImage"), "x y", "invalid reference format"), `--daemon-image "x y": invalid reference format`},
		{field.Invalid(field.NewPath("pullSecrets").Index(1), "a/b", "not a secret name"), `--pull-secret "a/b": not a secret name`},
		{field.Required(field.NewPath("daemonImage"), "this build has none stamped in"), `--daemon-image: this build has none stamped in`},
		{field.Invalid(field.NewPath("other"), 1, "detail"), `other: Invalid value: 1: detail`},
		{fmt.Errorf("plain"), "plain"},
	}
	for _, c := range cases {
		if got := flagError(c.err, flags).Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
