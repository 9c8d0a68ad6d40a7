// Package finding is the shape of everything the audit flags: a stable code
// for scripts, a severity for --fail-on, what is affected and a one-line fix.
package finding

import "sort"

// Severity orders findings for --fail-on.
type Severity string

// Severities, most severe first.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Rank is higher for more severe findings.
func (s Severity) Rank() int {
	switch s {
	case Error:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// Finding is one problem or observation.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	Nodes    []string `json:"nodes,omitempty"`
	Pods     []string `json:"pods,omitempty"`
	Images   []string `json:"images,omitempty"`
}

// Sort orders findings by severity, then code, then message, so output is
// stable between runs.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Severity.Rank() != fs[j].Severity.Rank() {
			return fs[i].Severity.Rank() > fs[j].Severity.Rank()
		}
		if fs[i].Code != fs[j].Code {
			return fs[i].Code < fs[j].Code
		}
		return fs[i].Message < fs[j].Message
	})
}

// Worst is the highest severity present ("" when there are none).
func Worst(fs []Finding) Severity {
	var worst Severity
	for _, f := range fs {
		if f.Severity.Rank() > worst.Rank() {
			worst = f.Severity
		}
	}
	return worst
}
