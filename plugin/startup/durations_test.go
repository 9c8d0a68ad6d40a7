package startup

import (
	"testing"
	"time"
)

func TestSummarizeUsesNearestRank(t *testing.T) {
	s := func(secs ...int) []time.Duration {
		out := make([]time.Duration, len(secs))
		for i, v := range secs {
			out[i] = time.Duration(v) * time.Second
		}
		return out
	}
	cases := []struct {
		in            []time.Duration
		p50, p95, max time.Duration
	}{
		{s(7), 7 * time.Second, 7 * time.Second, 7 * time.Second},
		// ranks ceil(2)=2 and ceil(3.8)=4 of 1,2,3,4.
		{s(4, 1, 3, 2), 2 * time.Second, 4 * time.Second, 4 * time.Second},
		// 20 values 1..20: p50 rank 10, p95 rank 19.
		{s(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 10 * time.Second, 19 * time.Second, 20 * time.Second},
	}
	for _, c := range cases {
		got := summarize(c.in)
		if got.Count != len(c.in) || got.P50 != c.p50 || got.P95 != c.p95 || got.Max != c.max {
			t.Errorf("summarize(%v) = %+v", c.in, got)
		}
	}
	if got := summarize(nil); got != (Durations{}) {
		t.Errorf("summarize(nil) = %+v", got)
	}
}
