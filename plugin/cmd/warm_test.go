package cmd

import (
	"strings"
	"testing"
)

// runRoot runs the command tree with args against no cluster objects and
// returns stdout and the error the command ended with.
func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	run := runCommand(t, "v1.37.2", nil, args...)
	return run.stdout, run.err
}

// Bad warm settings end in one line naming the flag, before any client is
// made (--dry-run=client needs no cluster at all).
func TestWarmRefusesBadSettingsByFlag(t *testing.T) {
	warm := []string{"warm", "--dry-run=client", "--daemon-image", "r.example/d:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "Team_A", "r.example/a:1"}, `--namespace "Team_A": not a namespace name`},
		{[]string{"--startup-taint", "example.com/w:NoExecute", "r.example/a:1"}, "NoExecute would evict running pods"},
		{[]string{"--startup-taint", "example.com/w:PreferNoSchedule", "r.example/a:1"}, "the effect may only be NoSchedule"},
		{[]string{"--startup-taint", "node.kubernetes.io/not-ready", "r.example/a:1"}, `--startup-taint "node.kubernetes.io/not-ready": a taint Kubernetes manages`},
		{[]string{"--startup-taint", "example.com/w", "--startup-taint-timeout", "10s", "r.example/a:1"}, `--startup-taint-timeout "10s": must be at least 1m`},
		{[]string{"--startup-taint-timeout", "1h", "r.example/a:1"}, "goes with --startup-taint"},
		{[]string{"--toleration", "=v:NoSchedule", "r.example/a:1"}, "give KEY[=VALUE][:EFFECT]"},
		{[]string{"--toleration", "k:Never", "r.example/a:1"}, `--toleration "Never": supported values: "NoSchedule"`},
		{[]string{"--max-concurrent-nodes", "1000000", "r.example/a:1"}, `--max-concurrent-nodes "1000000": must be 0 (no limit) to 100`},
		{[]string{"--pull-secret", "Team_Creds", "r.example/a:1"}, `--pull-secret "Team_Creds": not a secret name`},
	} {
		out, err := runRoot(t, append(warm, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || out != "" {
			t.Errorf("%v: %v (printed %q); want one line with %q", c.args, err, out, c.want)
		}
	}
	for _, args := range [][]string{{"warm", "remove", "-n", "a.b"}, {"warm", "status", "-n", "UPPER"}} {
		if _, err := runRoot(t, args...); err == nil || !strings.Contains(err.Error(), "not a namespace name") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// A taint with an effect and a node group's taints render as tolerations;
// the startup taint's timeout reaches the daemon.
func TestWarmRendersTolerationsAndTheTaintTimeout(t *testing.T) {
	out, err := runRoot(t, "warm", "--dry-run=client", "--daemon-image", "r.example/d:1", "--startup-taint", "example.com/w:NoSchedule",
		"--startup-taint-timeout", "45m", "--toleration", "dedicated=win:NoSchedule", "--toleration", "gpu", "r.example/a:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"key: example.com/w\n          operator: Exists\n", "effect: NoSchedule\n          key: dedicated\n          operator: Equal\n          value: win",
		"key: gpu\n          operator: Exists\n", "- --startup-taint-timeout\n          - 45m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
