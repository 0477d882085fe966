package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palyra/palyra-go/internal/sbom"
	"github.com/palyra/palyra-go/internal/vuln"
)

var testFeedPath = filepath.Join("testdata", "osv")

// testFeed loads testdata/osv: GO-2099-0001 (example.com/vulnerable
// below 1.5.0, ungraded) and GHSA-minr-minr-minr (example.com/minor 1.0.0
// to 1.1.0, low).
func testFeed() *vuln.Feed {
	f, err := vuln.Load(context.Background(), testFeedPath)
	if err != nil {
		panic(err)
	}
	return f
}

// sbomWith returns an SBOM made by internal/sbom listing the Go modules
// ("path@version") compiled into modules/echo.wasm.
func sbomWith(mods ...string) []byte {
	var gms []sbom.GoModule
	for _, m := range mods {
		path, version, _ := strings.Cut(m, "@")
		gms = append(gms, sbom.GoModule{Path: path, Version: version, ZipSHA256: strings.Repeat("0", 64)})
	}
	data, err := sbom.Generate(sbom.Skill{ID: "acme.echo", Version: "1.0.0"},
		[]sbom.Module{{Path: "modules/echo.wasm", SHA256: strings.Repeat("1", 64), GoModules: gms}}, sbom.Options{ToolVersion: "test"})
	if err != nil {
		panic(fmt.Sprint("sbom: ", err))
	}
	return data
}

// The report's vulnerability_scan sums up several findings.
func TestVulnerabilityScanSummary(t *testing.T) {
	f := newFixture()
	f.p.VulnerabilitySeverityThreshold = "moderate"
	f.setFile(sbomPath, sbomWith("example.com/vulnerable@v1.0.0", "example.com/minor@v1.0.0"))
	r := f.audit(t)
	s := r.VulnerabilityScan
	if s.Status != StatusFail || !strings.Contains(s.Message, "1 findings at or above the moderate threshold, 1 warnings") {
		t.Errorf("vulnerability_scan = %+v", s)
	}
	findings, _ := s.Details["findings"].([]map[string]any)
	if len(findings) != 2 || findings[0]["id"] != "GHSA-minr-minr-minr" || findings[1]["id"] != "GO-2099-0001" {
		t.Errorf("findings = %v", s.Details["findings"])
	}
	if len(r.QuarantineReasons) != 1 || !strings.Contains(r.QuarantineReasons[0], "GO-2099-0001") {
		t.Errorf("quarantine reasons = %q", r.QuarantineReasons)
	}
}
