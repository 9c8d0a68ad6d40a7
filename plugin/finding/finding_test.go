package finding

import "testing"

func TestSortAndWorst(t *testing.T) {
	fs := []Finding{{Code: "B", Severity: Info}, {Code: "Z", Severity: Error}, {Code: "A", Severity: Warning}, {Code: "A", Severity: Error}}
	Sort(fs)
	if fs[0].Code != "A" || fs[0].Severity != Error || fs[1].Code != "Z" || fs[3].Severity != Info {
		t.Fatalf("order = %+v", fs)
	}
	if Worst(fs) != Error || Worst(nil) != "" || Worst(fs[2:]) != Warning {
		t.Fatal("Worst")
	}
}
