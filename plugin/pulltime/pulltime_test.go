package pulltime

import (
	"math"
	"testing"
	"time"
)

func TestParseKubeletMessages(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		ok   bool
		want Pull
	}{
		{"1.30+ with size", `Successfully pulled image "r.example/app:1" in 8m2.3s (8m9.1s including waiting). Image size: 8240000000 bytes.`, true,
			Pull{Image: "r.example/app:1", Duration: 8*time.Minute + 2300*time.Millisecond, Waiting: 8*time.Minute + 9100*time.Millisecond, Bytes: 8240000000}},
		{"before 1.30, no size", `Successfully pulled image "a:1" in 512ms (512ms including waiting)`, true,
			Pull{Image: "a:1", Duration: 512 * time.Millisecond, Waiting: 512 * time.Millisecond}},
		{"before 1.26, no waiting part", `Successfully pulled image "mcr.microsoft.com/windows/servercore:ltsc2019" in 49.657983991s`, true,
			Pull{Image: "mcr.microsoft.com/windows/servercore:ltsc2019", Duration: 49657983991, Waiting: 49657983991}},
		{"already present is no pull", `Container image "a:1" already present on machine`, false, Pull{}},
	}
	for _, c := range cases {
		got, ok := Parse(c.msg)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: Parse = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestSummarize(t *testing.T) {
	stats := Summarize([]Pull{
		{Image: "a", Node: "n1", Duration: 4 * time.Minute, Bytes: 240e6},
		{Image: "a", Node: "n2", Duration: 2 * time.Minute, Bytes: 120e6},
		{Image: "a", Node: "n1", Duration: 3 * time.Minute},
		{Image: "b", Node: "n1", Duration: 10 * time.Second},
		{Image: "b", Node: "n1", Duration: 20 * time.Second},
	})
	if len(stats) != 2 || stats[0].Image != "a" {
		t.Fatalf("stats = %+v", stats)
	}
	a := stats[0]
	if a.Count != 3 || a.Median != 3*time.Minute || a.Max != 4*time.Minute || a.BytesPerSecond != 1e6 || len(a.Nodes) != 2 {
		t.Fatalf("a = %+v", a)
	}
	if stats[1].Median != 15*time.Second {
		t.Fatalf("even median = %v", stats[1].Median)
	}
}

func TestParsePresent(t *testing.T) {
	for msg, want := range map[string]string{
		`Container image "mcr.microsoft.com/windows/servercore:ltsc2022" already present on machine`:     "mcr.microsoft.com/windows/servercore:ltsc2022",
		`Container image "shop/web:1" already present on machine and can be accessed by the pod`:         "shop/web:1",
		`Successfully pulled image "shop/web:1" in 2.5s (2.5s including waiting). Image size: 10 bytes.`: "",
		`Pulling image "shop/web:1"`: "",
	} {
		got, ok := ParsePresent(msg)
		if got != want || ok != (want != "") {
			t.Errorf("ParsePresent(%q) = %q, %v", msg, got, ok)
		}
	}
}

// An Event's count weighs its pull: the figures are those of the pulls
// written out one by one, and a forged count costs nothing and counts as
// MaxOccurrences.
func TestSummarizeWeighsEachPullByItsCount(t *testing.T) {
	weighted := []Pull{
		{Image: "a", Node: "n1", Duration: time.Second, Count: 3},
		{Image: "a", Node: "n2", Duration: 10 * time.Second, Bytes: 100},
		{Image: "a", Node: "n1", Duration: 4 * time.Second, Count: 2, Bytes: 40},
	}
	var expanded []Pull
	for _, p := range weighted {
		for range max(p.Count, 1) {
			one := p
			one.Count = 0
			expanded = append(expanded, one)
		}
	}
	got, want := Summarize(weighted)[0], Summarize(expanded)[0]
	if got.Count != 6 || got.Median != want.Median || got.Max != want.Max || got.BytesPerSecond != want.BytesPerSecond ||
		got.PerNode["n1"] != 5 || got.PerNodeTime["n1"] != want.PerNodeTime["n1"] {
		t.Errorf("weighted %+v, written out %+v", got, want)
	}

	forged := Summarize([]Pull{{Image: "a", Node: "n1", Duration: MaxPull, Count: Occurrences(math.MaxInt32)},
		{Image: "a", Node: "n1", Duration: MaxPull, Count: Occurrences(math.MaxInt32)}})[0]
	if forged.Count != 2*MaxOccurrences || forged.PerNodeTime["n1"] != math.MaxInt64 {
		t.Errorf("forged counts: %d occurrences, %v on n1", forged.Count, forged.PerNodeTime["n1"])
	}
	if _, ok := Parse(`Successfully pulled image "a" in 25h0m0s (25h0m0s including waiting)`); ok {
		t.Error("a pull of more than a day was believed")
	}
}
