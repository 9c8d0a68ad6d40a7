package bake

// Patterns the test phase reads ctr's tables with (PowerShell -match,
// .NET regular expressions; written in the subset Go's regexp reads the
// same, so the tests run them). ctr images check prints REF TYPE DIGEST
// STATUS SIZE UNPACKED, and ctr images list REF TYPE DIGEST SIZE
// PLATFORMS LABELS (containerd v1.7.35 and v2.1.9, v2.4.2
// cmd/ctr/commands/images/images.go; the same columns in each).
const (
	// readyPattern: every blob of the platform present ("complete (n/n)")
	// and the image unpacked into the snapshotter (UNPACKED true). check
	// measures both for the platform ctr runs on, platforms.Default(): on
	// the new AMI's instance that is its own Windows build, so an image
	// unpacked for another build is not ready.
	readyPattern = `^\S+\s+\S+\s+sha256:[0-9a-f]{64}\s+complete \(\d+/\d+\)\s.*\strue\s*$`
	// pinLabelPattern: the pin label among the LABELS column's key=value
	// pairs (comma-separated).
	pinLabelPattern = `^\S+\s.*[\s,]io\.cri-containerd\.pinned=pinned(,|\s|$)`
)

// testPhase is the check Image Builder runs on an instance launched from
// the new AMI (the test stage runs a build component's test phase there):
// the component's own validate phase runs on the build instance before
// sysprep, which cannot show what the AMI holds. It starts containerd
// when the instance has not (nothing has bootstrapped the node), then
// holds every name want lists (a PowerShell array expression) to being
// complete, unpacked for this Windows build and pinned, as CRI will see
// them when kubelet asks.
func testPhase(ctr string, prelude []string, want string) Phase {
	start := []string{"$ErrorActionPreference = 'Stop'",
		"$service = Get-Service -Name 'containerd'",
		"if ($service.Status -ne 'Running') { Start-Service -Name 'containerd'; $service.WaitForStatus('Running', [TimeSpan]::FromMinutes(2)) }"}
	field := `($_ -split '\s+')[0]`
	check := append(append([]string{}, prelude...),
		"$want = "+want,
		"$check = "+psCommand(ctr, "-n", "k8s.io", "images", "check"),
		"if ($LASTEXITCODE -ne 0) { throw 'ctr images check failed' }",
		"$ready = @($check | Where-Object { $_ -match "+psQuote(readyPattern)+" } | ForEach-Object { "+field+" })",
		"$list = "+psCommand(ctr, "-n", "k8s.io", "images", "list"),
		"if ($LASTEXITCODE -ne 0) { throw 'ctr images list failed' }",
		"$pinned = @($list | Where-Object { $_ -match "+psQuote(pinLabelPattern)+" } | ForEach-Object { "+field+" })",
		"$notReady = @($want | Where-Object { $ready -notcontains $_ })",
		"if ($notReady) { throw ('on the new AMI, not complete and unpacked for its Windows build: ' + ($notReady -join ', ')) }",
		"$notPinned = @($want | Where-Object { $pinned -notcontains $_ })",
		"if ($notPinned) { throw ('on the new AMI, not pinned: ' + ($notPinned -join ', ')) }")
	return Phase{Name: "test", Steps: []Step{
		{Name: "StartContainerd", Action: "ExecutePowerShell", Inputs: StepInputs{Commands: start}},
		{Name: "ImagesReadyAndPinned", Action: "ExecutePowerShell", Inputs: StepInputs{Commands: check}},
	}}
}
