package benchbase

import (
	"slices"
	"testing"
	"time"
)

// Percentiles returns the median and the 99th percentile of ds (sorted
// in place; nearest rank).
func Percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.5) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return at(0.50), at(0.99)
}

// ReportLatencies reports the per-call latencies of a path under test and
// of a baseline timed call by call beside it: the metrics NAME-p50-us,
// NAME-p99-us, BASE-p50-us, BASE-p99-us and x-NAME-of-BASE (the ratio of
// the medians).
func ReportLatencies(b *testing.B, name string, calls []time.Duration, base string, baseline []time.Duration) {
	p50, p99 := Percentiles(calls)
	bp50, bp99 := Percentiles(baseline)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(p50), name+"-p50-us")
	b.ReportMetric(us(p99), name+"-p99-us")
	b.ReportMetric(us(bp50), base+"-p50-us")
	b.ReportMetric(us(bp99), base+"-p99-us")
	b.ReportMetric(float64(p50)/float64(bp50), "x-"+name+"-of-"+base)
}
