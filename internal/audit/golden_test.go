package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/palyra/palyra-go/internal/artifact"
	"github.com/palyra/palyra-go/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// TestReportGolden pins the JSON shape of a report — field names, status
// and severity spellings, check order, messages and details — for a fixed
// input that has a pass, a warning and a failure of each kind of check.
// Run with -update after a deliberate change and review the diff.
func TestReportGolden(t *testing.T) {
	m := goodManifest()
	m.ManifestVersion = 1
	m.Operator = nil
	m.Entrypoints.Tools = append(m.Entrypoints.Tools, manifest.Tool{ID: "acme.missing", Name: "missing"})
	m.Capabilities.Quotas.MaxMemoryBytes = 16 << 20
	files := []artifact.File{
		{Path: "modules/echo.wasm", Data: modSpec{
			tools:   []string{"echo"},
			imports: []*wasm.Import{funcImport(nsExtismEnv, "input_length"), funcImport(nsExtismEnv, "http_request"), funcImport(nsWASIP1, "path_open")},
			memory:  &wasm.Memory{Min: 2, Max: 1024, IsMaxEncoded: true},
			data:    2,
		}.build()},
		{Path: "modules/empty.wasm", Data: emptyModule},
		{Path: provenancePath, Data: []byte(testProvenance)},
		{Path: sbomPath, Data: []byte(testSBOM)},
	}
	r, err := Audit(context.Background(), Input{
		Manifest:          m,
		Files:             files,
		SignatureVerified: true,
		TrustDecision:     "tofu_newly_pinned",
		PayloadSHA256:     "5d41402abc4b2a76b9719d911017c592ae5f9f3e6e9b8a3f1b0c5e1d2a3b4c5d",
		Now:               time.UnixMilli(1_735_689_600_000),
	}, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r)
	got := marshal(t, r)
	path := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReportGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (run with -update if the change is deliberate):\n%s", path, got)
	}

	// The golden file decodes back to the same report, so the JSON tags
	// cover every field.
	var back Report
	dec := json.NewDecoder(bytes.NewReader(want))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if !bytes.Equal(marshal(t, &back), want) {
		t.Errorf("%s does not round-trip", path)
	}
}

// marshal writes r as indented JSON without HTML escaping, so that the
// golden file shows "<=" as the report's readers will.
func marshal(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
