package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The tests that run palyra as another process (an MCP client's server,
// a second operator's terminal) share one build of it per test run.
var palyraBuild struct {
	once sync.Once
	dir  string // made by TestMain, removed after the run
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "palyra-test-bin-")
	if err != nil {
		panic(err)
	}
	palyraBuild.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// palyraBinary returns the path of the palyra command built from this
// package, building it on first use.
func palyraBinary(t testing.TB) string {
	t.Helper()
	b := &palyraBuild
	b.once.Do(func() {
		b.path = filepath.Join(b.dir, "palyra")
		b.out, b.err = exec.Command("go", "build", "-o", b.path, ".").CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build palyra: %v\n%s", b.err, b.out)
	}
	return b.path
}
