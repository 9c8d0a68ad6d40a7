package audit

import (
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/winimage-io/kubectl-winimage/plugin/terminal"
)

// PrintTables writes the requested sections as kubectl-style tables; wide
// adds columns.
func PrintTables(w io.Writer, r *Report, sections map[string]bool, wide bool, now time.Time) error {
	printer := printers.NewTablePrinter(printers.PrintOptions{Wide: wide})
	write := func(title string, t *metav1.Table) error {
		if len(t.Rows) == 0 {
			return nil
		}
		fmt.Fprintf(w, "%s\n", title)
		if err := printer.PrintObj(t, w); err != nil {
			return err
		}
		fmt.Fprintln(w)
		return nil
	}
	if sections[SectionNodes] {
		if err := write(fmt.Sprintf("NODES (%s, apiserver %s)", r.NodeSelector, r.ServerVersion), nodesTable(r, now)); err != nil {
			return err
		}
		if err := write("NODE GROUPS (group, AMI, OS version, kubelet, containerd)", groupsTable(r)); err != nil {
			return err
		}
	}
	if sections[SectionFindings] {
		if err := write("FINDINGS", findingsTable(r)); err != nil {
			return err
		}
	}
	if sections[SectionImages] {
		if err := write("IMAGES", imagesTable(r)); err != nil {
			return err
		}
	}
	if sections[SectionPulls] {
		if err := write("OBSERVED PULLS (kubelet Pulled events)", pullsTable(r)); err != nil {
			return err
		}
	}
	if sections[SectionStartup] && r.Startup != nil {
		if err := write(startupTitle(r.Startup), startupTable(r)); err != nil {
			return err
		}
	}
	if err := write("KUBELET IMAGE SETTINGS (/configz of each group's newest node)", kubeletConfigTable(r)); err != nil {
		return err
	}
	for _, s := range r.Skipped {
		// A skipped entry may name what a pod spec names (a pull secret),
		// which nothing validates: one line each, whatever it holds.
		fmt.Fprintf(w, "skipped %s\n", terminal.Line(s))
	}
	fmt.Fprintf(w, "%d nodes, %d images: %d errors, %d warnings, %d info\n", r.Summary.Nodes, r.Summary.Images, r.Summary.Errors, r.Summary.Warnings, r.Summary.Infos)
	return nil
}

func col(name string, priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "string", Priority: priority}
}

func nodesTable(r *Report, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		col("NAME", 0), col("GROUP", 0), col("AMI", 0), col("OS VERSION", 0), col("KUBELET", 0), col("CONTAINERD", 0),
		col("INSTANCE TYPE", 1), col("OS IMAGE", 1), col("INSTANCE", 1), col("AGE", 0),
	}}
	for _, n := range r.Nodes {
		ami := n.AMI
		if ami == "" {
			ami = "<unknown>"
		}
		group := n.Group
		if n.GroupKind != "" {
			group += " (" + n.GroupKind + ")"
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			n.Name, group, ami, orDash(n.OSVersion), n.Kubelet, n.Containerd, n.InstanceType, n.OSImage, n.InstanceID,
			duration.HumanDuration(now.Sub(n.Created)),
		}})
	}
	return t
}

func groupsTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		col("GROUP", 0), col("AMI", 0), col("OS VERSION", 0), col("KUBELET", 0), col("CONTAINERD", 0), col("NODES", 0), col("NAMES", 1),
	}}
	for _, g := range r.Groups {
		group := g.Group
		if g.GroupKind != "" {
			group += " (" + g.GroupKind + ")"
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			orDash(group), orDash(g.AMI), orDash(g.OSVersion), g.Kubelet, g.Containerd, fmt.Sprint(len(g.Nodes)), strings.Join(g.Nodes, ","),
		}})
	}
	return t
}

func findingsTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		col("SEVERITY", 0), col("CODE", 0), col("MESSAGE", 0), col("NODES", 0), col("FIX", 1),
	}}
	for _, f := range r.Findings {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{string(f.Severity), f.Code, f.Message, fmt.Sprint(len(f.Nodes)), f.Fix}})
	}
	return t
}

func imagesTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		col("IMAGE", 0), col("PODS", 0), col("NODES", 0), col("CACHED", 0), col("SIZE BY NODE OS", 0), col("LAYERS", 1), col("SHARED", 1), col("ON NODE", 1), col("DIGEST", 1),
	}}
	for _, img := range r.Images {
		var sizes, layers, shared []string
		for _, p := range img.Platforms {
			label := platformLabel(img.Platforms, p)
			if !p.Runnable {
				sizes = append(sizes, label+": NO MATCHING ENTRY")
				continue
			}
			s := label + ": " + HumanBytes(p.Size)
			if p.ForeignLayers > 0 {
				s += fmt.Sprintf(" (%d foreign)", p.ForeignLayers)
			}
			sizes = append(sizes, s)
			layers = append(layers, fmt.Sprint(p.Layers))
			if p.Size > 0 {
				shared = append(shared, fmt.Sprintf("%d%%", p.SharedBytes*100/p.Size))
			}
		}
		if img.Error != "" {
			sizes = append(sizes, "error: "+img.Error)
		}
		if len(sizes) == 0 {
			sizes = []string{"-"}
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{
			img.Ref, fmt.Sprint(img.Pods), fmt.Sprint(img.Nodes), fmt.Sprintf("%d/%d", img.CachedOn, img.Nodes),
			strings.Join(sizes, ", "), orDash(strings.Join(layers, ",")), orDash(strings.Join(shared, ",")), HumanBytes(img.OnNodeBytes), orDash(img.Digest),
		}})
	}
	return t
}

func pullsTable(r *Report) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		col("IMAGE", 0), col("PULLS", 0), col("MEDIAN", 0), col("MAX", 0), col("THROUGHPUT", 0), col("NODES", 1),
	}}
	for _, p := range r.Pulls {
		rate := "-"
		if p.BytesPerSecond > 0 {
			rate = HumanBytes(p.BytesPerSecond) + "/s"
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{p.Image, fmt.Sprint(p.Count), p.Median.Round(100 * time.Millisecond).String(), p.Max.Round(100 * time.Millisecond).String(), rate, strings.Join(p.Nodes, ",")}})
	}
	return t
}

// HumanBytes prints sizes the way people read image sizes (1.5 GiB).
func HumanBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// platformLabel is the row's node OS version, with the entry rule when
// nodes of that version run containerd lines that pick different entries.
func platformLabel(all []PlatformSize, p PlatformSize) string {
	for _, o := range all {
		if o.NodeOSVersion == p.NodeOSVersion && o.EntryRule != p.EntryRule {
			return p.NodeOSVersion + " (" + p.EntryRule + ")"
		}
	}
	return p.NodeOSVersion
}
