package host_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/testskill"
)

// BenchmarkCheck100 re-checks 100 installed skills and reports the time
// as a ratio to 100 single verifies of the same artifacts (format,
// signature and trust store, from memory) measured in the same run.
// Goal: ≤ 2×.
func BenchmarkCheck100(b *testing.B) {
	state := b.TempDir()
	h := openHost(b, state, host.Options{})
	key := testskill.NewKey(b)
	var arts [][]byte
	for i := range 100 {
		s := skillSpec{Name: fmt.Sprintf("skill%03d", i), Key: key}
		data := s.Build(b)
		arts = append(arts, data)
		path := filepath.Join(b.TempDir(), "a.palyra-skill")
		writeFile(b, path, data)
		if _, err := h.Install(ctx, path, host.InstallOptions{AllowTOFU: true}); err != nil {
			b.Fatal(err)
		}
	}
	verify100 := func() {
		for _, a := range arts {
			if _, err := host.VerifyArtifact(ctx, bytes.NewReader(a), int64(len(a)), h.TrustStore(), host.VerifyOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	baseline := measure(verify100)
	b.ResetTimer()
	for b.Loop() {
		rep, err := h.Check(ctx, "")
		if err != nil || rep.Quarantined != 0 || len(rep.Skills) != 100 {
			b.Fatalf("check: %v %+v", err, rep)
		}
	}
	perCheck := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(baseline.Microseconds()), "verify100-µs")
	b.ReportMetric(float64(perCheck)/float64(baseline), "x-verify100")
}

// BenchmarkInstall installs a new version of one skill per iteration
// (verify, audit, staged extract with fsync, journal, old version removed).
func BenchmarkInstall(b *testing.B) {
	h := openHost(b, b.TempDir(), host.Options{})
	key := testskill.NewKey(b)
	dir := b.TempDir()
	var paths []string
	for i := range 200 {
		p := filepath.Join(dir, fmt.Sprintf("v%d.palyra-skill", i))
		writeFile(b, p, skillSpec{Version: fmt.Sprintf("1.0.%d", i), Key: key}.Build(b))
		paths = append(paths, p)
	}
	i := 0
	for b.Loop() {
		if i == len(paths) {
			b.StopTimer()
			h = openHost(b, b.TempDir(), host.Options{})
			i = 0
			b.StartTimer()
		}
		if _, err := h.Install(ctx, paths[i], host.InstallOptions{AllowTOFU: true}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// measure returns the best of five runs of f: the floor, not the mean, so a
// noisy neighbour does not flatter the ratio.
func measure(f func()) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range 5 {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best
}
