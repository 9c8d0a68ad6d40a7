package contract

// The daemon's command line as the plugin writes it into the DaemonSet and
// the unpin Job's pod: the subcommands and flag names (without "--") the
// daemon defines and the plugin passes. One list, so a renamed flag breaks
// the build on both sides instead of a DaemonSet at its first start.
const (
	CommandRun   = "run"
	CommandUnpin = "unpin"
	CommandProbe = "probe"

	FlagImages                = "images"
	FlagMaxConcurrentNodes    = "max-concurrent-nodes"
	FlagStartupTaint          = "startup-taint"
	FlagStartupTaintTimeout   = "startup-taint-timeout"
	FlagDiscardUnpackedLayers = "discard-unpacked-layers"
	FlagDiskThreshold         = "disk-threshold"
	FlagPullSecretsDir        = "pull-secrets-dir"

	FlagUnpinReport       = "report"
	FlagUnpinHold         = "hold"
	FlagUnpinRemoveUnused = "remove-unused"
)

// Flag is name as an argument: "--" + name.
func Flag(name string) string { return "--" + name }
