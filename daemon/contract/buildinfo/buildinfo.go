// Package buildinfo holds the values stamped into the binaries at link time
// (go build -ldflags "-X ...") so the plugin and the daemon report what they are.
package buildinfo

import "runtime"

// Stamped by the Makefile; the defaults say plainly that the binary was not
// built through it.
var (
	Version = "v0.0.0-dev"
	Commit  = "unknown"
	// DaemonImage is the node daemon image (by digest) that `warm` deploys.
	DaemonImage = ""
)

// Info is the build description printed by `version` commands.
type Info struct {
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	GoVersion   string `json:"goVersion"`
	Platform    string `json:"platform"`
	DaemonImage string `json:"daemonImage,omitempty"`
}

// Get returns the stamped build description of the running binary.
func Get() Info {
	return Info{
		Version:     Version,
		Commit:      Commit,
		GoVersion:   runtime.Version(),
		Platform:    runtime.GOOS + "/" + runtime.GOARCH,
		DaemonImage: DaemonImage,
	}
}
