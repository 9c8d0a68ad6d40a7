package warm

import (
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

// PrintStatus writes the status as a table and a summary line.
func PrintStatus(w io.Writer, r *StatusReport, wide bool) error {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "NODE", Type: "string"}, {Name: "BUILD", Type: "string"}, {Name: "STATE", Type: "string"},
		{Name: "READY", Type: "string"}, {Name: "BYTES", Type: "string"}, {Name: "AGE", Type: "string"},
		{Name: "POD", Type: "string", Priority: 1}, {Name: "FAILURES", Type: "string", Priority: 1},
	}}
	for _, n := range r.Nodes {
		var failures []string
		for _, f := range n.Failures {
			failures = append(failures, fmt.Sprintf("%s: %s", f.Ref, f.Reason))
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			n.Node, orDash(n.Build), n.State, fmt.Sprintf("%d/%d", n.Ready, n.Total),
			fmt.Sprintf("%s/%s", mib(n.BytesDone), mib(n.BytesTotal)), orDash(n.Age), orDash(n.Pod), orDash(strings.Join(failures, "; ")),
		}})
	}
	if len(t.Rows) > 0 {
		if err := printers.NewTablePrinter(printers.PrintOptions{Wide: wide}).PrintObj(t, w); err != nil {
			return err
		}
	}
	for _, n := range r.Nodes {
		for _, warning := range n.Warnings {
			fmt.Fprintf(w, "warning: node/%s: %s\n", n.Node, terminal.Cell(warning))
		}
	}
	s := r.Summary
	_, err := fmt.Fprintf(w, "%d nodes: %d ready, %d warming, %d failed, %d without a daemon pod\n", s.Nodes, s.Ready, s.Warming, s.Failed, s.NoDaemon)
	return err
}

func mib(n int64) string { return fmt.Sprintf("%dMi", n>>20) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
