package vuln

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzFeed feeds arbitrary bytes through what Load does to one file, then
// matches against the result: nothing may panic, and a feed that loads
// must answer Match for any version.
func FuzzFeed(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "feed", "ID", "*.json"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "v1.2.2")
	}
	f.Add([]byte(`[{"id":"X-1","affected":[{"package":{"name":"m","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"limit":"*"}]}]}]}]`), "v0.0.0-2020")
	f.Fuzz(func(t *testing.T, data []byte, version string) {
		b := newBuilder("fuzz", limits{fileBytes: 1 << 20, feedBytes: 1 << 20, records: 1000})
		recs, err := parseRecords(data)
		if err != nil {
			return
		}
		for _, r := range recs {
			if checkRecord(r) != nil {
				return
			}
			b.recs[r.GetId()] = r
			b.order = append(b.order, r.GetId())
		}
		feed := b.feed()
		for module := range feed.byModule {
			feed.Match(module, version)
			feed.Match(module, "v1.0.0")
		}
	})
}

// FuzzSBOMComponents: arbitrary SBOM bytes never panic.
func FuzzSBOMComponents(f *testing.F) {
	f.Add([]byte(`{"components":[{"purl":"pkg:golang/example.com/lib@v1.2.2","components":[{"purl":"pkg:golang/a%2Fb@%zz"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		SBOMComponents(data)
	})
}
