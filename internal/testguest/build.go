package testguest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// builds caches one build per package for the life of the test process.
// It is package state on purpose: the point is to share a build between
// tests that know nothing of each other.
var builds struct {
	mu sync.Mutex
	m  map[string]*build
}

// build is one package's build, done at most once.
type build struct {
	once sync.Once
	wasm []byte
	err  string // go build's failure, with its output
}

// Build returns the Wasm module compiled from the Go package pkg, an import
// path ("github.com/palyra/palyra-go/examples/echo") or a directory
// ("./testdata/guest", relative to the test's package directory as usual).
//
// The package is compiled once per test process with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared -trimpath; later calls, from any test or
// goroutine, return a copy of the same bytes. A failed build fails every
// test that asks for it, each with the compiler's output.
func Build(t testing.TB, pkg string) []byte {
	t.Helper()
	b := lookup(pkg)
	b.once.Do(func() { b.wasm, b.err = compile(pkg) })
	if b.err != "" {
		t.Fatalf("testguest: building %s: %s", pkg, b.err)
		return nil
	}
	// A copy, so a test that edits its module cannot break another test.
	return bytes.Clone(b.wasm)
}

// File builds pkg as Build does and writes the module to a file named
// name (for example "echo.wasm") in a fresh temporary directory removed when
// the test ends. It returns the file's path; use it where code under test
// reads modules from disk.
func File(t testing.TB, pkg, name string) string {
	t.Helper()
	wasm := Build(t, pkg)
	if wasm == nil {
		return "" // Build failed the test; reached only with a TB whose Fatal returns.
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatalf("testguest: %v", err)
		return ""
	}
	return path
}

// lookup returns the cache entry for pkg, creating it if needed.
// Directory arguments are keyed by absolute path so that "./x" and "x/"
// spelled differently still share one build.
func lookup(pkg string) *build {
	key := pkg
	if isDir(pkg) {
		if abs, err := filepath.Abs(pkg); err == nil {
			key = abs
		}
	}
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.m == nil {
		builds.m = make(map[string]*build)
	}
	b, ok := builds.m[key]
	if !ok {
		b = new(build)
		builds.m[key] = b
	}
	return b
}

// isDir reports whether pkg is written as a directory rather than an
// import path, using the go command's own rule.
func isDir(pkg string) bool {
	return filepath.IsAbs(pkg) || pkg == "." || pkg == ".." ||
		strings.HasPrefix(pkg, "./") || strings.HasPrefix(pkg, "../")
}

// compile runs go build and returns the module, or the reason it failed.
func compile(pkg string) ([]byte, string) {
	dir, err := os.MkdirTemp("", "testguest-")
	if err != nil {
		return nil, err.Error()
	}
	// The bytes are kept in memory; the file is not needed past this call,
	// and no test's cleanup could remove a directory shared by all of them.
	defer os.RemoveAll(dir)

	out := filepath.Join(dir, "module.wasm")
	// "go" is found on PATH: go test puts its own GOROOT/bin first there.
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, strings.TrimSpace(err.Error() + "\n" + string(msg))
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, err.Error()
	}
	return wasm, ""
}
