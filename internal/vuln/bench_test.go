package vuln

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoad loads a feed the size of the Go vulndb (5,000 records of
// a few KiB, in ID/), which every install and check reads once.
func BenchmarkLoad(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "ID")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	const n = 5000
	for i := range n {
		rec := fmt.Sprintf(`{"schema_version":"1.3.1","id":"GO-2024-%04d","modified":"2024-01-02T00:00:00Z","published":"2024-01-01T00:00:00Z",
"aliases":["CVE-2024-%04d","GHSA-%04d-bbbb-cccc"],"summary":"A vulnerability in example.com/m%d","details":"%0600d",
"affected":[{"package":{"name":"example.com/m%d","ecosystem":"Go"},
 "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"},{"introduced":"1.3.0"},{"fixed":"1.3.%d"}]}],
 "ecosystem_specific":{"imports":[{"path":"example.com/m%d/parse","symbols":["Parse","Reader.Read","Writer.Write"]}]}}],
"references":[{"type":"FIX","url":"https://example.com/m/commit/1"},{"type":"WEB","url":"https://example.com/advisory"}],
"database_specific":{"url":"https://pkg.go.dev/vuln/GO-2024-%04d","review_status":"REVIEWED"}}`, i, i, i, i, 0, i%500, i%9+1, i%500, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("GO-2024-%04d.json", i)), []byte(rec), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		f, err := Load(context.Background(), filepath.Dir(dir))
		if err != nil {
			b.Fatal(err)
		}
		if f.Records() != n {
			b.Fatalf("%d records", f.Records())
		}
	}
}
