package cmd

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// outputFormats are the -o values a command accepts, besides its default
// (""), as data so the check and its message cannot drift apart.
type outputFormats []string

func (f outputFormats) validate(command, got string) error {
	if got == "" {
		return nil
	}
	for _, ok := range f {
		if got == ok {
			return nil
		}
	}
	return fmt.Errorf("--output %q is not supported by %s: use %s", got, command, orList(f))
}

func orList(v []string) string {
	if len(v) < 2 {
		return strings.Join(v, "")
	}
	return strings.Join(v[:len(v)-1], ", ") + " or " + v[len(v)-1]
}

// DryRunStrategy is kubectl's --dry-run: none, client (print only) or
// server (validated and defaulted by the API server, not stored).
type DryRunStrategy int

const (
	DryRunNone DryRunStrategy = iota
	DryRunClient
	DryRunServer
)

func parseDryRun(s string) (DryRunStrategy, error) {
	switch s {
	case "none", "":
		return DryRunNone, nil
	case "client":
		return DryRunClient, nil
	case "server":
		return DryRunServer, nil
	}
	return DryRunNone, fmt.Errorf(`--dry-run %q: use "none", "client" or "server"`, s)
}

// flagError rewrites a library's field error in the user's terms: the flag
// that set the field, e.g. `daemonImage: Invalid value: "x": …` becomes
// `--daemon-image "x": …`. Errors of other kinds, and fields no flag sets,
// pass unchanged.
func flagError(err error, flags map[string]string) error {
	var fe *field.Error
	if !errors.As(err, &fe) {
		return err
	}
	path := fe.Field
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	flag, ok := flags[path]
	if !ok {
		return err
	}
	if fe.Type == field.ErrorTypeRequired {
		return fmt.Errorf("%s: %s", flag, fe.Detail)
	}
	return fmt.Errorf("%s %q: %s", flag, fmt.Sprint(fe.BadValue), fe.Detail)
}
