package audit

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/winimage-io/kubectl-winimage/plugin/startup"
)

// startupTitle says what the figures cover and where they split.
func startupTitle(s *startup.Section) string {
	parts := []string{"since " + s.Since.UTC().Format("2006-01-02 15:04 MST")}
	if s.WarmListChanged != nil {
		parts = append(parts, "warm list changed "+s.WarmListChanged.UTC().Format("2006-01-02 15:04 MST"))
	}
	if len(s.BakedAMIs) > 0 {
		parts = append(parts, "baked AMIs "+strings.Join(s.BakedAMIs, ","))
	}
	return fmt.Sprintf("STARTUP (%s; p50/p95, nearest rank)", strings.Join(parts, "; "))
}

func startupTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		col("GROUP", 0), col("BUILD", 0), col("PERIOD", 0), col("NODE READY", 0), col("PODS", 0), col("POD START", 0),
		col("PULLING", 0), col("REST", 1), col("MAX START", 1), col("WARM HITS", 0), col("WARM LIST PRESENT", 0),
		col("NO EVENTS", 1), col("RESTARTED", 1),
	}}
	if r.Startup == nil {
		return t
	}
	for _, row := range r.Startup.Rows {
		build := "-"
		if row.Build != 0 {
			build = fmt.Sprint(row.Build)
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			orDash(row.Group), build, row.Period, pair(row.NodeReady), row.PodStart.Count, pair(row.PodStart),
			pair(row.Pulling), pair(row.Rest), roundOrDash(row.PodStart.Max, row.PodStart.Count), share(row.Present, row.ImageUses),
			share(row.WarmListPresent, row.WarmListFirstUses), row.MissingEvents, row.Restarted,
		}})
	}
	return t
}

// pair is "p50/p95", or "-" when nothing was measured.
func pair(d startup.Durations) string {
	if d.Count == 0 {
		return "-"
	}
	return d.P50.Round(time.Second).String() + "/" + d.P95.Round(time.Second).String()
}

func roundOrDash(d time.Duration, count int) string {
	if count == 0 {
		return "-"
	}
	return d.Round(time.Second).String()
}

// share is "n/total (p%)", or "-" with nothing to count.
func share(n, total int) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%d%%)", n, total, n*100/total)
}
