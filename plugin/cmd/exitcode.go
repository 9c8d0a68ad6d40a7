package cmd

import "errors"

// Exit codes of every command, in one place.
const (
	// ExitFailed: the command could not do its work (the default).
	ExitFailed = 1
	// ExitFindings: audit found findings at or above --fail-on.
	ExitFindings = 3
	// ExitImagesFailed: warm --wait saw every node settle, some with images
	// that failed.
	ExitImagesFailed = 3
	// ExitInterrupted: Ctrl-C, as a shell reports SIGINT (128 + 2).
	ExitInterrupted = 130
)

// ExitError carries an exit code other than ExitFailed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps a command error to the process exit code.
func ExitCode(err error) int {
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		return exitErr.Code
	}
	return ExitFailed
}
