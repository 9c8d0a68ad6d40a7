package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/buildinfo"
)

func runVersion(t *testing.T, output string, server func(context.Context) (string, error)) (string, error) {
	t.Helper()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := NewVersionOptions(genericclioptions.NewConfigFlags(false), streams)
	o.PrintFlags.OutputFormat = &output
	o.serverVer = server
	if err := o.Complete(); err != nil {
		return "", err
	}
	if err := o.Validate(); err != nil {
		return "", err
	}
	err := o.Run(t.Context())
	return out.String(), err
}

func TestVersionPrintsClientAndServer(t *testing.T) {
	old := buildinfo.Version
	t.Cleanup(func() { buildinfo.Version = old })
	buildinfo.Version = "v1.2.3"

	out, err := runVersion(t, "", func(context.Context) (string, error) { return "v1.37.2", nil })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Client Version: v1.2.3") || !strings.Contains(out, "Server Version: v1.37.2") {
		t.Fatalf("output:\n%s", out)
	}

	out, err = runVersion(t, "json", func(context.Context) (string, error) { return "v1.37.2", nil })
	if err != nil {
		t.Fatal(err)
	}
	var report VersionReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("json output does not parse: %v\n%s", err, out)
	}
	if report.Kind != "Version" || report.APIVersion != "winimage.io/v1alpha1" || report.Client.Version != "v1.2.3" || report.Server != "v1.37.2" {
		t.Fatalf("report = %+v", report)
	}
}

func TestVersionServerErrorIsNonZeroButStillPrintsClient(t *testing.T) {
	out, err := runVersion(t, "", func(context.Context) (string, error) { return "", errors.New("connection refused") })
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want the server error", err)
	}
	if !strings.Contains(out, "Client Version:") {
		t.Fatalf("client version missing from output:\n%s", out)
	}
}

func TestVersionRejectsTableOutput(t *testing.T) {
	if _, err := runVersion(t, "wide", nil); err == nil {
		t.Fatal("-o wide accepted")
	}
}

func TestRootCarriesKubectlGlobalFlags(t *testing.T) {
	root := NewCmdRoot(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	for _, f := range []string{"kubeconfig", "context", "namespace", "as", "request-timeout", "server", "token"} {
		if root.PersistentFlags().Lookup(f) == nil {
			t.Errorf("global flag --%s missing", f)
		}
	}
}

// The server's version is the server's to write: it reaches the terminal
// on one line, escaped.
func TestVersionEscapesTheServersAnswer(t *testing.T) {
	out, err := runVersion(t, "", func(context.Context) (string, error) { return "v1.37.2\x1b[2J\rforged\nline\u009b", nil })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `Server Version: v1.37.2^[[2J\rforged\nline\u009b`+"\n") {
		t.Errorf("output: %q", out)
	}
}
