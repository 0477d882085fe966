package gen

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/palyra/palyra-go/internal/signing"
)

// The echoskill guest is compiled once per test process: buildOnce copies
// gen/testdata/echoskill to a process-wide temp dir and runs Build there.
// Tests that change a skill dir work on their own copy (copySkill).
var shared struct {
	once sync.Once
	root string
	dir  string
	res  *BuildResult
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{shared.root, typedWasm.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// builtSkill returns a skill dir in which Build has run, and its result.
// The dir is shared: do not modify it.
func builtSkill(t testing.TB) (string, *BuildResult) {
	t.Helper()
	shared.once.Do(func() {
		shared.root, shared.err = os.MkdirTemp("", "palyra-gen-test-")
		if shared.err != nil {
			return
		}
		shared.dir = filepath.Join(shared.root, "echoskill")
		if shared.err = copyTree("testdata/echoskill", shared.dir); shared.err != nil {
			return
		}
		shared.res, shared.err = Build(context.Background(), shared.dir, BuildOptions{})
	})
	if shared.err != nil {
		t.Fatalf("building testdata/echoskill: %v", shared.err)
	}
	return shared.dir, shared.res
}

// copySkill copies src (a skill dir) into a fresh temp dir.
func copySkill(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "skill")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// writeFiles creates files (slash paths → content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := signing.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// tmpFiles lists leftover temporary files (ours are ".NAME.*.tmp") under dir.
func tmpFiles(t testing.TB, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".tmp") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// summaryHash is dirhash Hash1 written out by hand: sha256 over
// "HEX  NAME\n" lines of the files in name order, in hex.
func summaryHash(t testing.TB, root string, names ...string) string {
	t.Helper()
	var sb strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(root, n))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%x  %s\n", sha256.Sum256(data), n)
	}
	sum := sha256.Sum256([]byte(sb.String()))
	return "h1:" + base64.StdEncoding.EncodeToString(sum[:])
}

const minimalSkillTOML = `manifest_version = 1
skill_id = "acme.prebuilt"
name = "Prebuilt"
version = "0.1.0"
publisher = "acme"

[entrypoints]
[[entrypoints.tools]]
id = "acme.noop"
name = "noop"
description = "Does nothing"
input_schema = { type = "object" }
output_schema = { type = "object" }
risk = { default_sensitive = false, requires_approval = false }

[capabilities]
http_egress_allowlist = []
device_capabilities = []
node_capabilities = []
secrets = []

[capabilities.filesystem]
read_roots = []
write_roots = []

[capabilities.quotas]
wall_clock_timeout_ms = 1000
fuel_budget = 1000000
max_memory_bytes = 16777216

[capabilities.wildcard_opt_in]

[compat]
required_protocol_major = 1
min_palyra_version = "0.1.0"
`

// emptyWasm is the smallest valid Wasm module: magic and version.
const emptyWasm = "\x00asm\x01\x00\x00\x00"
